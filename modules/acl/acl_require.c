/*
 * acl_require.c: the Require tree of mod_acl.
 *
 * A context's Require lines form an implicit <RequireAny>; containers
 * (<RequireAll>, <RequireAny>, <RequireNone>) nest to any depth; and
 * AuthMerging And|Or joins an inner context's tree with the outer one's
 * under a new container.  Evaluation follows httpd 2.4's mod_authz_core,
 * so that a configuration means the same in both:
 *
 * - a line answers granted, denied, or "denied, but a user may change
 *   that" (valid-user and friends before anyone authenticated);
 * - "not" turns granted into denied and a denial into neutral: a
 *   negation can only take access away, never give it;
 * - All stops at the first denied child, Any at the first granted one; a
 *   user-dependent denial wins over a plain one in Any (authenticating may
 *   still grant) and loses to it in All (nothing a user does helps);
 * - a container whose children all stayed neutral is neutral, and a
 *   neutral result at the top means denied.
 *
 * Nothing here touches a request: providers get an opaque context.
 */
#include <string.h>

#include <apr_strings.h>

#include "acl_private.h"

acl_node_t *acl_node_container(apr_pool_t *p, acl_kind_e kind, const char *file,
                               unsigned line)
{
    acl_node_t *n = apr_pcalloc(p, sizeof(*n));

    n->kind = kind;
    n->op = kind == ACL_KIND_ALL ? ACL_OP_ALL : ACL_OP_ANY;
    n->negate = kind == ACL_KIND_NONE;
    n->file = file;
    n->line = line;
    return n;
}

acl_node_t *acl_node_line(apr_pool_t *p, const acl_provider_t *prov,
                          const void *parsed, int negate, const char *text,
                          const char *file, unsigned line)
{
    acl_node_t *n = apr_pcalloc(p, sizeof(*n));

    n->kind = ACL_KIND_LINE;
    n->provider = prov;
    n->parsed = parsed;
    n->negate = negate;
    n->text = text;
    n->file = file;
    n->line = line;
    return n;
}

const char *acl_node_name(const acl_node_t *n)
{
    switch (n->kind) {
    case ACL_KIND_LINE:
        return n->text != NULL ? n->text : "Require";
    case ACL_KIND_CONTEXT:
        return "the Require lines of this context (an implicit <RequireAny>)";
    case ACL_KIND_ALL:
        return "<RequireAll>";
    case ACL_KIND_ANY:
        return "<RequireAny>";
    case ACL_KIND_NONE:
        return "<RequireNone>";
    case ACL_KIND_MERGED:
        return n->op == ACL_OP_ALL ? "AuthMerging And" : "AuthMerging Or";
    }
    return "?";
}

static void push_kid(apr_pool_t *p, acl_node_t *parent, acl_node_t *kid)
{
    if (parent->nkids == parent->kids_max) {
        int max = parent->kids_max ? parent->kids_max * 2 : 4;
        acl_node_t **kids = apr_palloc(p, sizeof(*kids) * (apr_size_t)max);
        if (parent->nkids > 0) {
            memcpy(kids, parent->kids,
                   sizeof(*kids) * (apr_size_t)parent->nkids);
        }
        parent->kids = kids;
        parent->kids_max = max;
    }
    parent->kids[parent->nkids++] = kid;
}

const char *acl_node_add(apr_pool_t *p, acl_node_t *parent, acl_node_t *kid)
{
    /* In an Any container a negative child can only turn a denial into
     * neutral, which Any treats like a denial: it would do nothing, and
     * whoever wrote it surely meant something.  httpd refuses it too. */
    if (kid->negate && parent->op == ACL_OP_ANY) {
        if (kid->kind == ACL_KIND_LINE) {
            return apr_psprintf(
                p,
                "'Require not' can only take access away, so it has no "
                "effect in %s: put it in a <RequireAll> together with a "
                "Require line that grants access, e.g. <RequireAll> "
                "Require all granted / Require not ip 10.0.0.1 "
                "</RequireAll>",
                acl_node_name(parent));
        }
        return apr_psprintf(p,
                            "<RequireNone> can only take access away, so it "
                            "has no effect in %s: put it in a <RequireAll> "
                            "together with a Require line that grants access",
                            acl_node_name(parent));
    }
    push_kid(p, parent, kid);
    return NULL;
}

const char *acl_node_close(apr_pool_t *p, const acl_node_t *n)
{
    if (n->nkids == 0) {
        return apr_psprintf(p, "%s holds no Require line", acl_node_name(n));
    }
    if (n->op == ACL_OP_ALL) {
        int i;
        for (i = 0; i < n->nkids; i++) {
            if (!n->kids[i]->negate) {
                return NULL;
            }
        }
        return apr_psprintf(p,
                            "%s holds only negative Require lines, so it can "
                            "never grant access: add one that grants (e.g. "
                            "Require all granted)",
                            acl_node_name(n));
    }
    return NULL;
}

acl_node_t *acl_node_merge(apr_pool_t *p, acl_op_e op, acl_node_t *outer,
                           acl_node_t *inner)
{
    acl_node_t *n =
        acl_node_container(p, ACL_KIND_MERGED, inner->file, inner->line);

    n->op = op;
    push_kid(p, n, outer);
    push_kid(p, n, inner);
    return n;
}

const char *acl_result_name(acl_result_e res)
{
    switch (res) {
    case ACL_DENIED:
        return "denied";
    case ACL_GRANTED:
        return "granted";
    case ACL_NEUTRAL:
        return "neutral";
    case ACL_DENIED_NO_USER:
        return "denied (no authenticated user yet)";
    case ACL_ERROR:
        return "error";
    }
    return "?";
}

/* One child's result folded into the container's so far; *stop when the
 * container's answer cannot change any more. */
static acl_result_e fold(acl_op_e op, acl_result_e acc, acl_result_e kid,
                         int *stop)
{
    if (kid == ACL_NEUTRAL) {
        return acc;
    }
    if (op == ACL_OP_ALL) {
        if (kid == ACL_DENIED) {
            *stop = 1;
            return ACL_DENIED;
        }
        /* a user may still change a user-dependent denial, unless a plain
         * denial was seen already */
        if (acc == ACL_NEUTRAL ||
            (kid == ACL_DENIED_NO_USER && acc != ACL_DENIED)) {
            return kid;
        }
        return acc;
    }
    if (kid == ACL_GRANTED) {
        *stop = 1;
        return ACL_GRANTED;
    }
    if (acc == ACL_NEUTRAL ||
        (kid == ACL_DENIED_NO_USER && acc == ACL_DENIED)) {
        return kid;
    }
    return acc;
}

acl_result_e acl_node_eval(const acl_node_t *n, const acl_eval_t *ev)
{
    acl_result_e res;

    if (n->provider != NULL) {
        res = n->provider->check(ev->ctx, n->parsed);
    } else {
        int i, stop = 0;
        res = ACL_NEUTRAL;
        for (i = 0; i < n->nkids && !stop; i++) {
            acl_result_e kid = acl_node_eval(n->kids[i], ev);
            if (kid == ACL_ERROR) {
                return ACL_ERROR;
            }
            res = fold(n->op, res, kid, &stop);
        }
    }
    if (n->negate && res != ACL_ERROR) {
        /* a negation never grants: "not denied" says nothing */
        res = res == ACL_GRANTED ? ACL_DENIED : ACL_NEUTRAL;
    }
    if (ev->trace != NULL) {
        ev->trace(ev->ctx, n, res);
    }
    return res;
}
