#!/usr/bin/env python3
"""The coordinator pages in headless Chromium (Debian's chromium and
chromium-driver, driven by Selenium): log in, create a site and a desk,
enroll a desk from the QR code drawn on the page (read back from a
screenshot by `vaxdesk qr decode`), watch its doses reach the dashboard,
merge a duplicate, void a dose and see the desk receive it, revoke the
device and see its next sync refused, export XLSX / CSV / FHIR from the page
and check them with independent readers against the hub's own export. Each
page's screenshot goes to SCREENSHOT_DIR/web-*.png (build-web/screenshots by default).

Usage: browser_test.py VAXDESK_BINARY SCREENSHOT_DIR
(VAXDESK_WEB_HUB_DB=postgres://… puts the hub on that empty database.)
Prints `web: N passed, M failed` last; exit 0 when every step passed."""

import csv
import datetime
import hashlib
import json
import ssl
import urllib.request
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import openpyxl
from fhir.resources.R4B.bundle import Bundle
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

PASSWORD = "mat-khau-tinh-2021"
SITE, DESK = "HN-DV-01", "D1"
# The clinic day is today in Vietnam: the desk records its doses now.
TODAY = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=7))).date()
TOMORROW = TODAY + datetime.timedelta(days=1)
PEOPLE = [
    # name, CCCD, birth, sex, vaccine, lot
    ("Nguyễn Thị Hoa", "001187001234", "1987-03-12", "nu", "AZ", "ABV5678"),
    ("Trần Văn Nam", "001090004321", "1990-05-02", "nam", "AZ", "ABV5678"),
    ("Lê Minh Đức", "001085002222", "1985-11-20", "nam", "VC", "VC2021A"),
]


def gone(element):
    """The page holding `element` was replaced. Chromium answers a node of a
    page that is gone either as stale or, now and then, as an inspector
    error naming a node that does not belong to the document: both mean gone."""
    try:
        element.is_enabled()
        return False
    except StaleElementReferenceException:
        return True
    except WebDriverException as e:
        if "does not belong to the document" in str(e) or "No node with given id" in str(e):
            return True
        raise


class Run:
    def __init__(self, vaxdesk, shots):
        self.vaxdesk = vaxdesk
        self.shots = Path(shots)
        self.shots.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix="vaxdesk-web-"))
        self.downloads = self.tmp / "downloads"
        self.downloads.mkdir()
        # VAXDESK_WEB_HUB_DB: an empty PostgreSQL database (postgres://…) for
        # the hub instead of a SQLite file (scripts/web-test runs both).
        self.hub_db = os.environ.get("VAXDESK_WEB_HUB_DB") or self.tmp / "hub.db"
        self.desk_db = self.tmp / "desk.db"
        self.passed, self.failed = 0, 0

    # ---- processes -----------------------------------------------------

    def cli(self, *args, db=None, check=True, env=None):
        cmd = [self.vaxdesk, "--db", str(db or self.desk_db), *args]
        # Debug logs on, as someone troubleshooting would run it; they are
        # kept to be searched for personal data at the end.
        r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "VAXDESK_LOG": "debug", **(env or {})}, timeout=120)
        with open(self.tmp / "desk.log", "a", encoding="utf-8") as log:
            log.write(r.stderr)
        if check and r.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
        return r

    def start_hub(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.cli("hub", "admin", "create", "--username", "dieu-phoi", "--password-env", "VXD_PW", db=self.hub_db, env={"VXD_PW": PASSWORD})
        self.hub_log = open(self.tmp / "hub.log", "w")
        # The app the hub hands out (scripts/build-apk), when there is one.
        self.apk = os.environ.get("VAXDESK_APK")
        apk_args = ["--apk", self.apk] if self.apk else []
        self.hub = subprocess.Popen(
            [self.vaxdesk, "--db", str(self.hub_db), "hub", "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.tmp / "hub-data"), *apk_args],
            stdout=self.hub_log, stderr=subprocess.STDOUT, env={**os.environ, "VAXDESK_LOG": "debug"},
        )
        # `vaxdesk hub` serves https with a self-signed certificate; the
        # browser is told to accept it (a coordinator does so once by hand).
        self.base = f"https://127.0.0.1:{self.port}"
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("hub did not start")

    def start_browser(self):
        o = webdriver.ChromeOptions()
        o.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--no-first-run", "--window-size=1280,1000", "--lang=vi"):
            o.add_argument(flag)
        o.set_capability("acceptInsecureCerts", True)
        o.add_experimental_option("prefs", {"download.default_directory": str(self.downloads), "download.prompt_for_download": False})
        self.b = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=o)
        # Form posts navigate; lookups wait for the next page (at most 5 s).
        self.b.implicitly_wait(5)
        self.b.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(self.downloads)})

    def stop(self):
        for f in (lambda: self.b.quit(), lambda: self.hub.terminate(), lambda: self.hub.wait(10)):
            try:
                f()
            except Exception:
                pass

    # ---- browser helpers -------------------------------------------------

    def go(self, path):
        self.b.get(self.base + path)

    def shot(self, name):
        self.b.save_screenshot(str(self.shots / f"web-{name}.png"))

    def text(self):
        return self.b.find_element(By.TAG_NAME, "body").text

    def fill(self, form, **fields):
        for name, value in fields.items():
            el = form.find_element(By.NAME, name)
            if el.tag_name == "select":
                el.find_element(By.CSS_SELECTOR, f"option[value='{value}']").click()
            else:
                el.clear()
                el.send_keys(value)

    def submit(self, form):
        self.click(form.find_element(By.CSS_SELECTOR, "button[type=submit]"))

    def click(self, el):
        """Click something that loads a page, and wait until it has."""
        old = self.b.find_element(By.TAG_NAME, "html")
        el.click()
        WebDriverWait(self.b, 10).until(lambda _: gone(old))

    def form(self, action):
        return self.b.find_element(By.CSS_SELECTOR, f"form[action='{action}']")

    def step(self, name, f):
        try:
            f()
            self.passed += 1
            print(f"ok    {name}")
            return True
        except Exception:
            self.failed += 1
            print(f"FAIL  {name}")
            traceback.print_exc()
            try:
                failed = self.tmp / f"failed-{name.split()[0]}.png"
                self.b.save_screenshot(str(failed))
                print(f"      screenshot of the failure: {failed}")
            except Exception:
                pass
            return False

    # ---- the steps -------------------------------------------------------

    def log_in(self):
        self.go("/dashboard")
        assert self.b.current_url.endswith("/login"), self.b.current_url
        self.shot("01-login")
        f = self.form("/login")
        self.fill(f, username="dieu-phoi", password="wrong password!")
        self.submit(f)
        assert "không đúng" in self.text(), "a wrong password is refused in Vietnamese"
        f = self.form("/login")
        self.fill(f, username="dieu-phoi", password=PASSWORD)
        self.submit(f)
        assert self.b.current_url.endswith("/dashboard"), self.b.current_url
        cookie = self.b.get_cookie("vxd_session")
        assert cookie and cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict", cookie

    def forged_post_refused(self):
        # A form without the session's CSRF token changes nothing.
        old = self.b.find_element(By.TAG_NAME, "html")
        self.b.execute_script(
            "const f=document.createElement('form');f.method='post';f.action='/sites';"
            "for (const [k,v] of [['csrf','forged'],['code','EVIL'],['name','Evil']]){const i=document.createElement('input');"
            "i.name=k;i.value=v;f.appendChild(i)};document.body.appendChild(f);f.submit();")
        WebDriverWait(self.b, 10).until(lambda _: gone(old))
        assert "hết hạn" in self.text(), self.text()[:300]
        self.go("/sites")
        assert "EVIL" not in self.text()

    def site_and_desk(self):
        self.go("/sites")
        f = self.form("/sites")
        self.fill(f, code=SITE, name="Trường THCS Dịch Vọng", province_code="01")
        self.submit(f)
        f = self.form(f"/sites/{SITE}/desks")
        self.fill(f, code=DESK, name="Bàn 1 — khám sàng lọc")
        self.submit(f)
        assert "Bàn 1 — khám sàng lọc" in self.text()
        self.shot("02-sites")

    def enroll_from_qr(self):
        self.go("/sites")
        self.click(self.form(f"/sites/{SITE}/desks/{DESK}/enroll").find_element(By.CSS_SELECTOR, "button"))
        qr = self.b.find_element(By.ID, "enroll-qr")
        self.shot("03-enroll")
        png = self.tmp / "enroll-qr.png"
        qr.screenshot(str(png))
        decoded = json.loads(self.cli("--json", "qr", "decode", str(png)).stdout.splitlines()[0])
        text = decoded["codes"][0]["text"]
        assert text.startswith("VXD1:") and self.base in text, text
        assert self.b.find_element(By.ID, "enroll-code").text in text
        self.cli("enroll", text, "--name", "Điện thoại của Lan")
        again = self.cli("--db", str(self.tmp / "other.db"), "enroll", text, check=False)
        assert again.returncode != 0, "an enrollment code works once"

    def app_download(self):
        """The enrollment page links to /app: a QR code of the download, the
        file's size, its SHA-256 and its signer's certificate digest, all of
        which the downloaded file must match."""
        assert self.apk, "VAXDESK_APK names the APK the hub hands out (scripts/build-apk)"
        self.click(self.b.find_element(By.ID, "enroll-app"))
        assert self.b.current_url.endswith("/app"), self.b.current_url
        self.shot("12-app")
        png = self.tmp / "app-qr.png"
        self.b.find_element(By.ID, "app-qr").screenshot(str(png))
        url = json.loads(self.cli("--json", "qr", "decode", str(png)).stdout.splitlines()[0])["codes"][0]["text"]
        assert url == f"{self.base}/app/vaxdesk.apk", url
        # Downloaded as a phone would (the hub's self-signed certificate accepted by hand).
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        # A phone's browser asks for gzip; the hub sends the APK as it is (compressing it per
        # download would cost the hub's CPU for nothing).
        req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            assert r.headers["Content-Type"] == "application/vnd.android.package-archive", r.headers["Content-Type"]
            assert r.headers.get("Content-Encoding") in (None, "identity"), r.headers.get("Content-Encoding")
            body = r.read()
        original = Path(self.apk).read_bytes()
        assert body == original, "the download is the file"
        assert self.b.find_element(By.ID, "app-sha256").text == hashlib.sha256(body).hexdigest()
        assert self.b.find_element(By.ID, "app-size").text.startswith(str(len(body)))
        certs = subprocess.run(["apksigner", "verify", "--print-certs", self.apk], capture_output=True, text=True, check=True).stdout
        signer = next(l.split(": ")[1] for l in certs.splitlines() if "certificate SHA-256 digest" in l)
        assert self.b.find_element(By.ID, "app-signer").text == signer, (self.b.find_element(By.ID, "app-signer").text, signer)
        self.b.back()

    def record_and_sync(self):
        self.cli("session", "start", "--vaccine", "AZ", "--lot", "ABV5678")
        for name, nid, birth, sex, vaccine, lot in PEOPLE:
            self.cli("person", "add", "--name", name, "--id", nid, "--birth", birth, "--sex", sex, "--confirm", "national_id.birth_year_mismatch")
            self.cli("dose", "record", "--person", nid, "--vaccine", vaccine, "--lot", lot, "--lot-expiry", "2099-12-31", "--confirm", "lot.unknown")
        # The same man typed again without his id: a possible duplicate.
        self.cli("person", "add", "--name", "Tran Van Nam", "--birth", "1990-05-02", "--sex", "nam")
        out = self.cli("sync", "--once").stdout
        assert "refused 0" in out, out

    def dashboard(self):
        self.go(f"/dashboard?site={SITE}")
        assert self.b.find_element(By.ID, "total-given").text == str(len(PEOPLE))
        row = self.b.find_element(By.CSS_SELECTOR, f"tr[data-desk='{DESK}'] td.given")
        assert row.text == str(len(PEOPLE)), row.text
        assert "Điện thoại của Lan" in self.text()
        self.shot("04-dashboard")

    def merge_duplicate(self):
        self.go("/duplicates")
        self.shot("05-duplicates")
        pair = self.b.find_element(By.CSS_SELECTOR, "fieldset.pair")
        assert "Trần Văn Nam" in pair.text and "Tran Van Nam" in pair.text
        self.click(pair.find_elements(By.CSS_SELECTOR, "form[action$='/merge'] button")[0])
        assert "dieu-phoi" in self.text() and "merged" in self.text()
        assert not self.b.find_elements(By.CSS_SELECTOR, "fieldset.pair")

    def void_dose(self):
        self.go("/persons?q=le minh duc")
        href = self.b.find_element(By.LINK_TEXT, "Lê Minh Đức").get_attribute("href")
        self.b.get(href)
        row = self.b.find_element(By.CSS_SELECTOR, "#doses tr[data-record]")
        self.record_id = row.get_attribute("data-record")
        row.find_elements(By.TAG_NAME, "summary")[1].click()
        f = row.find_element(By.CSS_SELECTOR, "form[action$='/void']")
        self.fill(f, reason="Nhập nhầm người")
        self.submit(f)
        assert "Đã lưu" in self.text(), self.text()[:300]
        assert not self.b.find_elements(By.CSS_SELECTOR, "#doses tr[data-record]")
        self.shot("06-person")
        # The desk learns of it at its next pull.
        self.cli("sync", "--once")
        doses = json.loads(self.cli("--json", "dose", "list").stdout)
        assert self.record_id not in [d["id"] for d in doses], "the void reached the desk"
        assert len(doses) == len(PEOPLE) - 1, doses

    def catalog(self):
        self.go("/catalog")
        f = self.form("/catalog/lots")
        self.fill(f, vaccine="PF", number="FK2021B")
        self.b.execute_script("document.querySelector(\"input[name='expiry']\").value='2099-06-30'")
        self.submit(f)
        assert "FK2021B" in self.b.find_element(By.ID, "lots").text
        self.shot("07-catalog")

    def exports(self):
        self.go("/exports")
        self.shot("08-exports")
        got = {}
        for fmt, ext in (("xlsx", "xlsx"), ("csv", "csv"), ("fhir", "json")):
            self.go("/exports")
            f = self.form("/exports/download")
            self.fill(f, site=SITE, format=fmt)
            for name in ("from", "to"):
                self.b.execute_script(f"document.querySelector(\"input[name='{name}']\").value='2020-01-01'" if name == "from"
                                      else f"document.querySelector(\"input[name='{name}']\").value='2099-12-31'")
            # A download: the page stays, so no wait for a new one.
            f.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            for _ in range(100):
                files = [p for p in self.downloads.glob(f"*.{ext}")]
                if files:
                    break
                time.sleep(0.1)
            assert files, f"no {ext} downloaded"
            got[fmt] = files[0]
        # The hub's own export of the same range, by the CLI.
        ref = self.tmp / "hub.csv"
        self.cli("export", "csv", "--hub-db", str(self.hub_db), "--site", SITE, "--from", "2020-01-01", "--to", "2099-12-31", "--out", str(ref), db=self.tmp / "unused.db")
        with open(ref, encoding="utf-8-sig", newline="") as f:
            expected = list(csv.reader(f))
        with open(got["csv"], encoding="utf-8-sig", newline="") as f:
            from_web = list(csv.reader(f))
        assert from_web == expected, (from_web, expected)
        assert len(expected) == len(PEOPLE), f"header + {len(PEOPLE) - 1} doses (one voided): {expected}"
        names = sorted(r[0] for r in expected[1:])
        assert names == sorted(p[0] for p in PEOPLE if p[0] != "Lê Minh Đức"), names
        sheet = openpyxl.load_workbook(got["xlsx"], read_only=True).active
        rows = [["" if v is None else str(v) for v in r] for r in sheet.iter_rows(values_only=True)]
        assert rows == expected, rows
        bundle = Bundle.model_validate_json(got["fhir"].read_text(encoding="utf-8"))
        kinds = sorted(e.resource.__resource_type__ for e in bundle.entry)
        assert kinds.count("Immunization") == len(PEOPLE) - 1 and kinds.count("Patient") == len(PEOPLE) - 1, kinds

    def registrations(self):
        """A site's registration list uploaded on the page: every row answered
        (a bad birth date refused, named by row and column); the desk then
        finds a registered citizen by a name typed without accents and by
        CCCD, with the appointment day."""
        rows = [
            ["Họ và tên", "Ngày sinh", "Giới tính", "Số CMND/CCCD", "Số điện thoại", "Số thẻ BHYT", "Nhóm ưu tiên", "Ngày hẹn tiêm"],
            ["Nguyễn Thị Hoa", "12/03/1990", "Nữ", "001190012345", "0912345678", "", "3", f"{TODAY:%d/%m/%Y}"],
            ["Phạm Văn Đông", "05/07/1985", "Nam", "001085004321", "0987001122", "", "5", f"{TODAY:%d/%m/%Y}"],
            ["Lê Thị Bé", "31/02/1992", "Nữ", "", "0903111222", "", "9", f"{TODAY:%d/%m/%Y}"],
            ["Hoàng Văn Tư", "1960", "Nam", "", "0903111333", "", "2", f"{TOMORROW:%d/%m/%Y}"],
        ]
        path = self.tmp / "danh-sach-dang-ky.csv"
        # As Excel saves "CSV UTF-8": a byte-order mark, CRLF line ends.
        with open(path, "w", encoding="utf-8-sig", newline="") as f:
            csv.writer(f, lineterminator="\r\n").writerows(rows)
        self.go("/registrations")
        f = self.form("/registrations")
        self.fill(f, site=SITE)
        f.find_element(By.NAME, "file").send_keys(str(path))
        self.submit(f)
        refused = self.b.find_element(By.CSS_SELECTOR, "#rows tr[data-row='4'][data-status='refused']")
        assert "Ngày sinh" in refused.text and "31/02/1992" in refused.text, refused.text
        assert len(self.b.find_elements(By.CSS_SELECTOR, "#rows tr[data-status='added']")) == 3
        self.shot("13-registrations")
        self.go(f"/registrations/{SITE}/{TODAY}")
        assert "Nguyễn Thị Hoa" in self.text() and "Phạm Văn Đông" in self.text() and "Hoàng Văn Tư" not in self.text()
        self.cli("sync", "--once")
        by_name = self.cli("person", "find", "nguyen thi hoa").stdout
        assert "Nguyễn Thị Hoa" in by_name and f"Đã đăng ký, hẹn ngày {TODAY:%d/%m/%Y}" in by_name, by_name
        by_id = self.cli("person", "find", "001085004321").stdout
        assert "Phạm Văn Đông" in by_id and f"Đã đăng ký, hẹn ngày {TODAY:%d/%m/%Y}" in by_id, by_id

    def daily_report(self):
        """A registered citizen is vaccinated; the dashboard's charts are
        drawn (bars per desk, lines), the print view of the daily report fits
        A4, its XLSX read back by openpyxl says what `vaxdesk report daily`
        says from the hub's database."""
        self.cli("dose", "record", "--person", "001190012345", "--vaccine", "AZ", "--lot", "ABV5678", "--lot-expiry", "2099-12-31", "--confirm", "lot.unknown")
        self.cli("sync", "--once")
        self.go(f"/dashboard?site={SITE}&date={TODAY}")
        charts = self.b.find_elements(By.CSS_SELECTOR, "svg.chart[role='img']")
        assert len(charts) == 3, len(charts)
        for c in charts:
            title = c.find_element(By.TAG_NAME, "title").get_attribute("textContent")
            assert title and c.get_attribute("aria-labelledby"), title
            box = c.rect
            assert box["width"] > 300 and box["height"] > 100, box
        bars = self.b.find_elements(By.CSS_SELECTOR, f"svg.chart rect[data-series='{DESK}']")
        assert sum(int(r.get_attribute("data-value")) for r in bars) == len(PEOPLE), "every dose standing today is in a bar"
        assert all(r.size["height"] > 0 for r in bars), "the bars are drawn"
        served = self.b.find_element(By.CSS_SELECTOR, "table.figures td.served").text
        assert (self.b.find_element(By.CSS_SELECTOR, "table.figures td.registered").text, served) == ("2", "1"), served
        self.b.execute_script("document.querySelector('svg.chart').scrollIntoView()")
        self.shot("14-dashboard-charts")
        self.go(f"/reports/daily?site={SITE}&date={TODAY}")
        self.b.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        try:
            assert not self.b.find_element(By.TAG_NAME, "header").is_displayed(), "no navigation on paper"
            # A4 at 96 dpi less the margins: 794 px wide.
            self.b.set_window_size(794, 1123)
            self.shot("15-daily-report-print")
        finally:
            self.b.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
            self.b.set_window_size(1280, 1000)
        expected = json.loads(self.cli("--json", "report", "daily", "--hub-db", str(self.hub_db), "--date", str(TODAY), "--site", SITE, db=self.tmp / "unused.db").stdout)[0]
        assert (expected["registered"], expected["served"], expected["not_yet_come"]) == (2, 1, 1), expected
        for old in self.downloads.glob("*.xlsx"):
            old.unlink()
        self.b.find_element(By.ID, "xlsx").click()
        for _ in range(100):
            files = list(self.downloads.glob("bao-cao-ngay-*.xlsx"))
            if files:
                break
            time.sleep(0.1)
        assert files, "no report downloaded"
        book = openpyxl.load_workbook(files[0], read_only=True)
        summary = [list(r) for r in book["Tong hop"].iter_rows(values_only=True)]
        assert summary[0][:3] == ["Điểm tiêm", "Ngày", "Mũi đã tiêm"], summary[0]
        row = summary[1]
        assert row[0] == SITE and row[1] == f"{TODAY:%d/%m/%Y}", row
        got = dict(zip(["vaccinated", "deferred", "refused", "registered", "served", "not_yet_come", "walk_ins", "certificates"], [int(v) for v in row[2:10]]))
        assert got == {k: expected[k] for k in got}, (got, expected)
        by_vaccine = {(r[2].split(" ")[0], int(r[3] or 0)): int(r[4]) for r in list(book["Theo vac xin"].iter_rows(values_only=True))[1:]}
        assert by_vaccine == {(d["vaccine"], d["dose_number"]): d["doses"] for d in expected["doses"]}, (by_vaccine, expected["doses"])

    def revoke(self):
        self.go("/devices")
        row = self.b.find_element(By.CSS_SELECTOR, "#devices tr[data-device]")
        assert "Điện thoại của Lan" in row.text
        self.click(row.find_element(By.CSS_SELECTOR, "form[action$='/revoke'] button"))
        row = self.b.find_element(By.CSS_SELECTOR, "#devices tr[data-device]")
        assert "Đã thu hồi" in row.text, row.text
        self.shot("09-devices")
        r = self.cli("sync", "--once", check=False)
        assert r.returncode != 0 and "revoked" in (r.stderr + r.stdout), (r.returncode, r.stderr)

    def audit(self):
        self.go("/audit")
        t = self.text()
        for action in ("site.save", "desk.save", "enrollment.code", "person.merge", "dose.void", "lot.add", "export.xlsx", "export.csv", "device.revoke"):
            assert action in t, f"audit has {action}"
        self.shot("10-audit")

    def english(self):
        self.go(f"/lang/en?back=/dashboard%3Fsite%3D{SITE}")
        assert "Dashboard" in self.text() and "Doses given" in self.text(), self.text()[:200]
        self.shot("11-dashboard-en")
        self.go("/lang/vi?back=/dashboard")

    def no_personal_data_in_logs(self):
        """Every log line of the run (the hub's, and the desk's tracing lines
        — not its printed results) is free of the seeded names, national ids,
        birth dates and person ids."""
        doses = json.loads(self.cli("--json", "dose", "list").stdout)
        secrets = {d["person_id"] for d in doses}
        for name, nid, birth, *_ in PEOPLE:
            secrets |= {name, nid, birth, name.lower()}
        secrets.add("Tran Van Nam")
        hub_log = (self.tmp / "hub.log").read_text(encoding="utf-8")
        desk_lines = [l for l in (self.tmp / "desk.log").read_text(encoding="utf-8").splitlines()
                      if l[:4].isdigit() and any(k in l for k in (" TRACE ", " DEBUG ", " INFO ", " WARN ", " ERROR "))]
        lines = hub_log.splitlines() + desk_lines
        assert len(lines) > 10, f"the run logged ({len(lines)} lines)"
        leaks = [(s, l) for l in lines for s in secrets if s in l]
        assert not leaks, f"personal data in logs: {leaks[:5]}"

    def logout(self):
        self.click(self.b.find_element(By.CSS_SELECTOR, "form[action='/logout'] button"))
        self.go("/dashboard")
        assert self.b.current_url.endswith("/login")


def main(vaxdesk, shots):
    run = Run(vaxdesk, shots)
    steps = [
        ("log in over https (wrong password refused, cookie Secure + HttpOnly + SameSite)", run.log_in),
        ("forged form without CSRF token refused", run.forged_post_refused),
        ("create a site and a desk", run.site_and_desk),
        ("enroll a desk from the page's QR code", run.enroll_from_qr),
        ("hand out the app: QR, size, SHA-256 and signer match the download", run.app_download),
        ("desk records doses and syncs", run.record_and_sync),
        ("doses appear on the dashboard", run.dashboard),
        ("merge a possible duplicate", run.merge_duplicate),
        ("void a dose from the web; the desk receives it", run.void_dose),
        ("add a lot to the catalog", run.catalog),
        ("export XLSX, CSV, FHIR from the page = hub's export", run.exports),
        ("upload a registration list (a bad row refused); the desk finds the registered by name and CCCD", run.registrations),
        ("charts on the dashboard, the daily report printed and as XLSX = `vaxdesk report daily`", run.daily_report),
        ("revoke the device; its sync is refused", run.revoke),
        ("audit log lists every change", run.audit),
        ("English pages", run.english),
        ("no personal data in any log line (debug logs of hub and desk)", run.no_personal_data_in_logs),
        ("log out", run.logout),
    ]
    try:
        run.start_hub()
        run.start_browser()
        for name, f in steps:
            if not run.step(name, f):
                break
    except Exception:
        traceback.print_exc()
        run.failed += 1
    finally:
        run.stop()
    not_run = len(steps) - run.passed - run.failed
    if not_run > 0:
        run.failed += not_run
        print(f"{not_run} step(s) not run after a failure; hub log: {run.tmp / 'hub.log'}")
    print(f"web: {run.passed} passed, {run.failed} failed")
    if run.failed == 0:
        # Kept after a failure: the logs and screenshots are what to look at.
        shutil.rmtree(run.tmp, ignore_errors=True)
    return 0 if run.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
