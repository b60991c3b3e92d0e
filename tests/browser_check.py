"""Open a report's HTML page in a real headless browser (Chromium) and check what a reader
sees: every image decodes, no Markdown marker is left visible in the text, every
in-page link (``#anchor``) resolves, and no figure is shrunk below a readable size at
page width.

The browser is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``;
Python's standard library only, nothing downloaded).  It is found as
``$SOFTRAS_BENCH_BROWSER`` or the first of :data:`BROWSERS` on ``PATH``
(Debian: ``apt-get install chromium``).

Command line (``nox -s browser`` runs it)::

    python tests/browser_check.py REPORT.html [--screenshot OUT.png]

prints the problems found (exit status 1) or ``ok``.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Browser executables tried, in order.
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: Environment variable naming the browser executable.
BROWSER_ENV = "SOFTRAS_BENCH_BROWSER"
#: The window the page is laid out in (CSS pixels): a laptop screen.
WINDOW = (1280, 900)
#: A figure is readable when shown at least this tall (CSS pixels) ...
MIN_FIGURE_HEIGHT = 180
#: ... and at least this fraction of its own pixel size (its text then stays legible).
MIN_FIGURE_SCALE = 0.6


def find_browser() -> str | None:
    """The browser executable, or ``None`` when there is none."""
    given = os.environ.get(BROWSER_ENV, "")
    if given:
        return shutil.which(given) or (given if os.access(given, os.X_OK) else None)
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


class Browser:
    """A headless Chromium driven over the DevTools protocol on a pipe (fd 3: commands
    in, fd 4: replies and events out, NUL-separated JSON)."""

    def __init__(self, executable: str, window: tuple[int, int] = WINDOW,
                 timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._profile = tempfile.TemporaryDirectory(prefix="softras-browser-")
        to_child, self._out = os.pipe()  # we write commands, the browser reads fd 3
        self._in, from_child = os.pipe()  # the browser writes fd 4, we read

        def wire() -> None:  # in the child: the two pipe ends become fds 3 and 4
            hi_r, hi_w = os.dup(to_child) + 100, os.dup(from_child) + 100
            os.dup2(to_child, hi_r)
            os.dup2(from_child, hi_w)
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        self.proc = subprocess.Popen(
            [executable, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--remote-debugging-pipe", f"--user-data-dir={self._profile.name}",
             f"--window-size={window[0]},{window[1]}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=wire, close_fds=False)
        os.close(to_child)
        os.close(from_child)
        self._buf, self._id, self.session = b"", 0, None
        self._events: list[dict] = []  # events read while waiting for a reply
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]
        self.call("Page.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=window[0], height=window[1],
                  deviceScaleFactor=1, mobile=False)

    def _read(self) -> dict:
        while b"\0" not in self._buf:
            ready, _, _ = select.select([self._in], [], [], self.timeout)
            chunk = os.read(self._in, 1 << 20) if ready else b""
            if not chunk:
                raise RuntimeError("the browser stopped answering (timed out or exited)")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method: str, **params) -> dict:
        """Send one command (to the page once attached) and return its result."""
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params}
        if self.session:
            msg["sessionId"] = self.session
        os.write(self._out, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._events.append(reply)

    def open(self, path: str | Path) -> None:
        """Load a local file and wait for its load event."""
        self._events.clear()
        self.call("Page.navigate", url=Path(path).absolute().as_uri())
        deadline = time.monotonic() + self.timeout
        while not any(e.get("method") == "Page.loadEventFired" for e in self._events):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{path}: no load event within {self.timeout:.0f} s")
            self._events.append(self._read())

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (promises awaited)."""
        out = self.call("Runtime.evaluate", expression=expression, awaitPromise=True,
                        returnByValue=True)
        if "exceptionDetails" in out:
            raise RuntimeError(f"script failed: {out['exceptionDetails']}")
        return out["result"].get("value")

    def screenshot(self, path: str | Path, top: float = 0, height: float | None = None) -> None:
        """A PNG of the page from ``top`` (CSS pixels), ``height`` tall (default: one
        window)."""
        import base64

        width = self.evaluate("document.documentElement.scrollWidth")
        clip = {"x": 0, "y": top, "width": width, "height": height or WINDOW[1], "scale": 1}
        data = self.call("Page.captureScreenshot", format="png", clip=clip,
                         captureBeyondViewport=True)["data"]
        Path(path).write_bytes(base64.b64decode(data))

    def close(self) -> None:
        for fd in (self._out, self._in):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


#: The page-side checks; returns ``{check: [problem, ...]}``.
CHECKS_JS = r"""
(async () => {
  const out = {images: [], markers: [], anchors: [], figures: []};
  for (const img of Array.from(document.images)) {
    try { await img.decode(); } catch (e) {}
    if (!img.complete || img.naturalWidth === 0)
      out.images.push(img.alt || img.src.slice(0, 60));
  }
  const skip = 'code, pre, style, script, title';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
    acceptNode: n => n.parentElement.closest(skip) ? NodeFilter.FILTER_REJECT
                                                    : NodeFilter.FILTER_ACCEPT});
  const marks = [/\*\*/, /`/, /\]\(/, /\|\s*:?-{3}/,
                 /(^|\s)\*[^*\s][^*]*\*(?=$|[\s.,;:)])/, /(^|\s)_[^_\s][^_]*_(?=$|[\s.,;:)])/];
  for (let n = walker.nextNode(); n; n = walker.nextNode())
    if (marks.some(m => m.test(n.textContent)))
      out.markers.push(n.textContent.trim().slice(0, 120));
  for (const p of document.querySelectorAll('p, li, figcaption, td, th'))
    if (/^\s*(#{1,6}\s|[-+]\s|\d+\.\s)/.test(p.innerText))
      out.markers.push(p.innerText.trim().slice(0, 120));
  for (const a of document.querySelectorAll('a[href^="#"]')) {
    const id = decodeURIComponent(a.getAttribute('href').slice(1));
    if (!document.getElementById(id)) out.anchors.push(a.getAttribute('href'));
  }
  for (const img of document.querySelectorAll('figure img')) {
    const r = img.getBoundingClientRect();
    const scale = img.naturalWidth ? r.width / img.naturalWidth : 0;
    if (r.height < MIN_HEIGHT || scale < MIN_SCALE)
      out.figures.push(`${img.closest('figure').id}: shown ${Math.round(r.width)}x` +
                       `${Math.round(r.height)} px of ${img.naturalWidth}x` +
                       `${img.naturalHeight} (scale ${scale.toFixed(2)})`);
  }
  return out;
})()
"""


def check_page(browser: Browser, path: str | Path) -> dict[str, list[str]]:
    """Open ``path`` and return the problems per check (``images``: images that do not
    decode; ``markers``: text showing Markdown markers; ``anchors``: ``#links`` without
    a target; ``figures``: figures shown below :data:`MIN_FIGURE_HEIGHT` px or
    :data:`MIN_FIGURE_SCALE` of their size)."""
    browser.open(path)
    js = (CHECKS_JS.replace("MIN_HEIGHT", str(MIN_FIGURE_HEIGHT))
          .replace("MIN_SCALE", str(MIN_FIGURE_SCALE)))
    return browser.evaluate(js)


def page_stats(browser: Browser) -> dict:
    """Counts of what the open page holds (to check the checks saw something)."""
    return browser.evaluate(
        "({images: document.images.length, figures: document.querySelectorAll('figure').length,"
        " anchors: document.querySelectorAll('a[href^=\"#\"]').length,"
        " headings: document.querySelectorAll('h2, h3').length,"
        " height: document.documentElement.scrollHeight})")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("pages", nargs="+", help="report.html files")
    p.add_argument("--screenshot", help="PNG of the first screen of the (last) page")
    args = p.parse_args(argv)
    exe = find_browser()
    if exe is None:
        print(f"no browser: install chromium (Debian: apt-get install chromium) or set "
              f"{BROWSER_ENV}", file=sys.stderr)
        return 2
    bad = 0
    with Browser(exe) as b:
        for page in args.pages:
            problems = check_page(b, page)
            stats = page_stats(b)
            found = {k: v for k, v in problems.items() if v}
            print(f"{page}: {stats}: " + ("ok" if not found else json.dumps(found, indent=1)))
            bad += bool(found)
        if args.screenshot:
            b.screenshot(args.screenshot)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
