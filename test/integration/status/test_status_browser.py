"""The balancer manager and the status page in a real browser: headless
Chromium (Debian's chromium and chromium-driver, driven by
python3-selenium) loads /balancer-manager, disables a member by ticking
its box and pressing Update, and a plain client then sees traffic stop
reaching it.  The screenshot goes to the test's tmp directory
(docs/balancer-manager.png is one of them)."""
import os
import shutil

import pytest

from conftest import free_port
from helpers_proxy import Backend
from helpers_status_manager import (MANAGER, manager_conf, member,
                                    request, served_by, state)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def browser():
    """A headless Chromium through chromedriver, or a skip saying why
    Chromium cannot run here."""
    if not os.access(CHROMIUM, os.X_OK) or not os.access(CHROMEDRIVER,
                                                         os.X_OK):
        pytest.skip("Chromium cannot run here: %s or %s is missing "
                    "(Debian: chromium, chromium-driver)"
                    % (CHROMIUM, CHROMEDRIVER))
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("Chromium cannot be driven here: python3-selenium is "
                    "missing (support/setup-debian.sh installs it)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    # --no-sandbox: the suite runs as root, where Chromium's sandbox
    # refuses to start
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
              "--disable-dev-shm-usage", "--window-size=1400,640",
              "--no-first-run", "--no-proxy-server"):
        opts.add_argument(a)
    try:
        return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    except Exception as e:  # WebDriverException and its kin
        pytest.skip("Chromium cannot run here: %s" % str(e).splitlines()[0])


@pytest.fixture
def chrome():
    d = browser()
    d.set_page_load_timeout(20)
    yield d
    d.quit()


@pytest.fixture
def two():
    a, b = Backend(), Backend()
    yield a, b
    a.stop()
    b.stop()


def start(relais, a, b):
    front = free_port()
    members = ("    BalancerMember %s route=one\n"
               "    BalancerMember %s route=two" % (a.url, b.url))
    relais.write_conf(manager_conf(front, members, extra="""
<Location "/server-status">
    SetHandler server-status
</Location>
ProxyPass /server-status !
"""))
    relais.start(front)
    return front


def member_row(driver, url):
    from selenium.webdriver.common.by import By
    return driver.find_element(By.CSS_SELECTOR, 'tr[data-member="%s"]' % url)


def test_browser_disables_a_member(relais, chrome, two, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    a, b = two
    front = start(relais, a, b)
    # traffic reaches both before
    assert min(served_by(front, [a, b], 20)) > 0

    chrome.get("http://127.0.0.1:%d%s" % (front, MANAGER))
    assert chrome.title == "Balancer manager"
    row = member_row(chrome, b.url)
    assert "Ok" in row.find_element(By.CSS_SELECTOR, "td.state").text
    form = chrome.find_element(By.CSS_SELECTOR,
                               'form[data-member="%s"]' % b.url)
    box = form.find_element(By.CSS_SELECTOR,
                            'input[type="checkbox"][name="w_status_D"]')
    assert not box.is_selected()
    box.click()
    form.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()

    # the POST is answered with 303 back to the page, which shows it
    def shows_disabled(d):
        try:
            return "Dis" in member_row(d, b.url).find_element(
                By.CSS_SELECTOR, "td.state").text
        except Exception:
            return False
    WebDriverWait(chrome, 10).until(shows_disabled)
    form = chrome.find_element(By.CSS_SELECTOR,
                               'form[data-member="%s"]' % b.url)
    assert form.find_element(
        By.CSS_SELECTOR,
        'input[type="checkbox"][name="w_status_D"]').is_selected()
    assert "Ok" in member_row(chrome, a.url).find_element(
        By.CSS_SELECTOR, "td.state").text

    # a plain client: none of 20 requests reaches member 2
    assert served_by(front, [a, b], 20) == [20, 0]
    assert member(state(front), b.url)["status"]["disabled"] is True
    assert "balancer-manager: balancer://app member %s: disabled off -> on" \
        % b.url in relais.error_log()

    chrome.refresh()
    WebDriverWait(chrome, 10).until(shows_disabled)
    shot = str(tmp_path / "balancer-manager.png")
    assert chrome.save_screenshot(shot)
    assert os.path.getsize(shot) > 10000
    keep = os.environ.get("RELAIS_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, os.path.join(keep, "balancer-manager.png"))


def test_browser_server_status(relais, chrome, two, tmp_path):
    from selenium.webdriver.common.by import By

    a, b = two
    front = start(relais, a, b)
    served_by(front, [a, b], 10)
    status, _, _ = request(front, "GET", "/server-status")
    assert status == 200
    chrome.get("http://127.0.0.1:%d/server-status" % front)
    tables = chrome.find_elements(By.TAG_NAME, "table")
    text = "\n".join(t.text for t in tables)
    assert "balancer://app" in chrome.page_source
    assert a.url in text and b.url in text
    chrome.save_screenshot(str(tmp_path / "server-status.png"))
