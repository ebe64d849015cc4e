MOD_balancer_LIBS = -lm
