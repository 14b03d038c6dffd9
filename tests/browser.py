"""What the Chromium tests share: the browser, its viewports, and a watch on every page's console.

The tests ask for the `sync_api` fixture (tests/conftest.py), which skips them when Chromium or
Playwright is missing, then open the browser with `launch(pw)`. Screenshots go to ARTIFACTS
(gitignored).
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.factories import PASSWORD

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO_ROOT / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

# Reported to the page's console by an init script (init scripts are not subject to the CSP).
# Chromium logs violations too; this line names the directive.
CSP_WATCH = """
document.addEventListener('securitypolicyviolation', (e) => {
  console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + e.blockedURI);
});
"""


def launch(pw):
    """Chromium from `sync_api.sync_playwright()`, with ARTIFACTS ready for screenshots."""
    ARTIFACTS.mkdir(exist_ok=True)
    return pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


class ConsoleWatch:
    """Console errors, uncaught exceptions and CSP violations of every page watched.

    `attach` takes a browser context (every page it opens from then on is watched) or one page.
    A refused form answers with an error status on purpose, and Chromium logs the status of any
    document or resource; `expect_status` excuses one such line for a URL the test sends there on
    purpose, `allow_status` every such line for URLs matching a pattern.
    """

    def __init__(self) -> None:
        self.problems: list[str] = []
        # (URL part or pattern, statuses, excuses one line only)
        self._allowed: list[tuple[str | re.Pattern, tuple[int, ...], bool]] = []

    def attach(self, target) -> None:
        target.add_init_script(CSP_WATCH)
        if hasattr(target, "new_page"):  # a BrowserContext
            target.on("page", self._watch)
        else:
            self._watch(target)

    def expect_status(self, url_part: str, status: int) -> None:
        self._allowed.append((url_part, (status,), True))

    def allow_status(self, url_pattern: re.Pattern, *statuses: int) -> None:
        self._allowed.append((url_pattern, statuses, False))

    def _excused(self, url: str, text: str) -> bool:
        for i, (where, statuses, once) in enumerate(self._allowed):
            at = where.search(url) if isinstance(where, re.Pattern) else where in url
            logged = re.fullmatch(
                r"Failed to load resource: the server responded with a status of (\d+) \(.*\)",
                text,
            )
            if at and logged and int(logged[1]) in statuses:
                if once:
                    del self._allowed[i]
                return True
        return False

    def _on_console(self, page, msg) -> None:
        if msg.type != "error":
            return
        url = (msg.location or {}).get("url", "") or page.url
        if not self._excused(url, msg.text):
            self.problems.append(f"{url}: {msg.text}")

    def _watch(self, page) -> None:
        page.on("console", lambda msg: self._on_console(page, msg))
        page.on("pageerror", lambda exc: self.problems.append(f"{page.url}: {exc}"))

    def assert_clean(self) -> None:
        assert not self.problems, "console errors or CSP violations:\n" + "\n".join(self.problems)


def sign_in(page, origin: str, email: str) -> None:
    """Sign in on the login page with email and password; lands on the workspace home."""
    page.goto(f"{origin}/accounts/login/")
    page.locator('input[name="login"]').fill(email)
    page.locator('input[name="password"]').fill(PASSWORD)
    page.locator('form button[type="submit"]').first.click()
    page.wait_for_url(f"{origin}/app/")
