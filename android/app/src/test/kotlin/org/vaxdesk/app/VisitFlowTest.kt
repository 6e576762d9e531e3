package org.vaxdesk.app

import android.app.job.JobInfo
import android.app.job.JobScheduler
import android.view.View
import android.widget.Button
import android.widget.EditText
import android.widget.TextView
import java.io.File
import java.nio.ByteBuffer
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.annotation.Config
import org.vaxdesk.app.sync.SyncScheduler
import org.vaxdesk.app.visit.VisitScreen
import org.vaxdesk.testkit.HOA

/**
 * The volunteer's day, screen by screen, with the camera: enroll, scan,
 * save in one tap, the queue and the sync, a refused save and a warning,
 * a dose the hub refused fixed from the queue, the certificate, English.
 * Each screen is drawn to a PNG as it is reached.
 */
@RunWith(RobolectricTestRunner::class)
class VisitFlowTest : Shell() {
    private fun queue() = app.core.withDesk { it.queue() }

    /** The database file and its WAL, as bytes a thief copying them off the phone would get. */
    private fun rawDatabase(): String =
        listOf("desk.db", "desk.db-wal").map { File(files, it) }.filter { it.exists() }
            .joinToString("") { String(it.readBytes(), Charsets.ISO_8859_1) }

    @Test fun enrollScanSaveQueueAndSyncToTheHub() {
        enrollThroughTheScreens(shots = true)
        val secure = android.view.WindowManager.LayoutParams.FLAG_SECURE
        assertTrue("screens with personal data are kept out of screenshots", activity.window.attributes.flags and secure != 0)
        assertTrue(text("scan-session").contains("AZ2107"))
        assertNotNull("the camera runs once the screen, the permission and the preview are there", scanScreen.feedForTest)
        screenshot("04-scan")

        scan(HOA)
        assertTrue("a CCCD scan opens the form at once", activity.current is VisitScreen)
        assertEquals("Nguyễn Thị Hoa", find<EditText>("field:full_name").text.toString())
        assertEquals("022187001234", find<EditText>("field:national_id").text.toString())
        assertTrue(find<Button>("sex=female").isSelected)
        assertTrue(text("visit-match").startsWith("Người mới"))
        screenshot("05-visit")

        tap("visit-save") // the one tap from a good scan to a saved dose
        assertEquals("scan", screen())
        assertTrue(text("scan-saved"), text("scan-saved").contains("Nguyễn Thị Hoa") && text("scan-saved").contains("mũi 1"))

        // Saved offline first; the framework's JobScheduler sends it when a network is there.
        val jobs = activity.getSystemService(JobScheduler::class.java).allPendingJobs
        val soon = jobs.first { it.id == SyncScheduler.SOON_JOB }
        assertEquals(JobInfo.NETWORK_TYPE_ANY, soon.networkType)
        assertTrue(jobs.any { it.id == SyncScheduler.PERIODIC_JOB && it.isPeriodic })

        tap("go-queue")
        assertEquals("Chờ gửi: 2", text("queue-pending")) // the person and the dose
        assertEquals(1, rowTexts("dose-row").count { "Nguyễn Thị Hoa" in it })
        screenshot("06-queue")
        tap("queue-sync")
        assertEquals("Chờ gửi: 0", text("queue-pending"))
        assertEquals("Hub đã nhận: 2", text("queue-accepted"))
        assertEquals("Cần sửa: 0", text("queue-to-fix"))

        // The same person scanned again is found on record, with the next dose due.
        activity.onBackPressed(); idle()
        scan(HOA)
        assertTrue(text("visit-match"), text("visit-match").contains("Mũi tiếp theo: 2"))
        activity.onBackPressed(); idle()

        // Saved and synced, and never in the clear on the phone's storage.
        val raw = rawDatabase()
        assertTrue(raw.length > 4096)
        assertFalse("no CCCD in the database file", raw.contains("022187001234"))
        // Whole values only: a 3-letter fragment turns up in ciphertext by chance (1 in 16 M per byte).
        val name = String("Nguyễn Thị Hoa".toByteArray(Charsets.UTF_8), Charsets.ISO_8859_1)
        assertFalse("no name in the database file", raw.contains(name) || raw.contains("nguyen thi hoa"))
        assertFalse("no SQLite header: the file is encrypted", raw.contains("SQLite format 3"))

        tap("go-settings")
        assertTrue(text("settings-hub").contains(hub.url))
        assertTrue(text("settings-device").contains(app.core.withDesk { it.deviceId() }))
        screenshot("07-settings")
        tap("settings-guide")
        assertTrue(text("guide-text").contains("Khi không có mạng"))
        screenshot("08-guide")
    }

    @Test fun aRefusedSaveShowsTheFieldsMessageAndAWarningTakesOneTapToConfirm() {
        enrollThroughTheScreens()
        tap("scan-manual")
        type("full_name", "Trần Văn Bình")
        type("national_id", "12345")
        type("birth_date", "01/01/1990")
        tap("visit-save")
        assertEquals("visit", screen())
        assertTrue(visible("note:national_id"))
        assertEquals("Số CCCD có 12 chữ số (CMND cũ 9 hoặc 12).", text("note:national_id"))
        assertFalse("an error cannot be confirmed away", visible("visit-confirm"))
        // The field is named for a screen reader by its label.
        assertEquals(find<EditText>("field:national_id").id, find<TextView>("label:national_id").labelFor)
        assertEquals(View.ACCESSIBILITY_LIVE_REGION_POLITE, find<TextView>("note:national_id").accessibilityLiveRegion)
        val birth = find<EditText>("field:birth_date").inputType
        assertEquals("a date keyboard", android.text.InputType.TYPE_CLASS_DATETIME or android.text.InputType.TYPE_DATETIME_VARIATION_DATE, birth)
        screenshot("09-refused")
        assertEquals("nothing was saved", 0uL, queue().pending)

        // A CCCD whose sex digit says male, saved as female: a warning.
        activity.onBackPressed(); idle()
        scan(NAM)
        assertTrue(text("visit-match").startsWith("Người mới"))
        tap("sex=female")
        tap("visit-save")
        assertTrue(visible("visit-confirm"))
        assertTrue(text("note:national_id").contains("Giới tính không khớp"))
        assertEquals("Xác nhận 1 cảnh báo và lưu", find<Button>("visit-confirm").text.toString())
        screenshot("10-warning")
        tap("visit-confirm")
        assertEquals(root.findViewWithTag<TextView>("visit-message")?.text.toString(), "scan", screen())
        assertEquals(2uL, queue().pending)
    }

    /** The hub's catalog as the coordinator would publish it, without [vaccine] (a mistake). */
    private fun catalogWithout(catalog: org.json.JSONObject, vaccine: String): org.json.JSONObject {
        val c = org.json.JSONObject(catalog.toString())
        fun filter(key: String, keep: (org.json.JSONObject) -> Boolean) {
            val all = c.getJSONArray(key)
            val kept = org.json.JSONArray()
            for (i in 0 until all.length()) all.getJSONObject(i).takeIf(keep)?.let { kept.put(it) }
            c.put(key, kept)
        }
        filter("vaccines") { it.getString("code") != vaccine }
        filter("lots") { it.getString("vaccine") != vaccine }
        filter("mixes") { it.getString("first") != vaccine }
        val booster = c.getJSONObject("booster")
        val after = booster.optJSONArray("after") ?: org.json.JSONArray()
        for (i in 0 until after.length()) for (key in listOf("primary", "products")) {
            val list = after.getJSONObject(i).getJSONArray(key)
            for (j in list.length() - 1 downTo 0) if (list.getString(j) == vaccine) list.remove(j)
        }
        val mixes = c.getJSONArray("mixes")
        for (i in 0 until mixes.length()) {
            val then = mixes.getJSONObject(i).getJSONArray("then")
            for (j in then.length() - 1 downTo 0) if (then.getString(j) == vaccine) then.remove(j)
        }
        return c.put("version", catalog.getInt("version") + 1)
    }

    @Test fun aDoseTheHubRefusesIsFixedFromTheQueue() {
        enrollThroughTheScreens()
        // The coordinator publishes a catalog without AstraZeneca by mistake...
        val catalog = org.json.JSONObject(hub.call("GET", "/catalog", ""))
        hub.call("PUT", "/catalog", catalogWithout(catalog, "AZ").toString())
        try {
            refusedThenFixed(catalog)
        } finally {
            // The class's other tests share the hub: AstraZeneca is back whatever happened here.
            val now = org.json.JSONObject(hub.call("GET", "/catalog", ""))
            if (now.getJSONArray("vaccines").toString().contains("\"AZ\"").not()) {
                hub.call("PUT", "/catalog", catalog.put("version", now.getInt("version") + 1).toString())
            }
        }
    }

    private fun refusedThenFixed(catalog: org.json.JSONObject) {
        scan(THU)
        tap("visit-save")
        tap("go-queue")
        tap("queue-sync")
        assertEquals("Cần sửa: 1", text("queue-to-fix"))
        val item = find<Button>("fix-0").text.toString()
        assertTrue(item, item.contains("Phạm Thị Thu") && item.contains("Vắc xin không có trong danh mục."))
        screenshot("13-to-fix")

        // ...and puts it back. The volunteer syncs, opens the refused dose and saves it again.
        hub.call("PUT", "/catalog", catalog.put("version", catalog.getInt("version") + 2).toString())
        tap("queue-sync")
        tap("fix-0")
        assertEquals("fix", screen())
        assertTrue(text("fix-reason").contains("vaccine"))
        // The fix starts from the record: its vaccine and time, not today's session and now.
        assertTrue(text("visit-dose"), text("visit-dose").startsWith("Mũi cần sửa: AZ, "))
        assertEquals("Phạm Thị Thu", find<EditText>("field:full_name").text.toString())
        screenshot("14-fix")
        tap("visit-save")
        assertEquals("queue", screen())
        assertEquals("Cần sửa: 0", text("queue-to-fix"))
        assertEquals("only the fresh record goes out", "Chờ gửi: 1", text("queue-pending"))
        tap("queue-sync")
        assertEquals("Chờ gửi: 0", text("queue-pending"))
        assertEquals("Cần sửa: 0", text("queue-to-fix"))
        assertEquals("the refused record is voided, the fresh one listed", 1, rowTexts("dose-row").count { "Phạm Thị Thu" in it })
    }

    @Test fun theScanScreenTakesACardAndNamesWhatItIsNot() {
        enrollThroughTheScreens()
        // A coordinator's enrollment code held up at the person's screen: named, not taken.
        scan("VXD1:{\"hub\":\"https://10.0.0.2:8443\",\"code\":\"ABCD-EFGH-JKLM\"}")
        assertEquals("scan", screen())
        assertEquals("Đây là mã đăng ký máy, không phải CCCD hay PC-Covid.", text("scan-status"))
        // A card whose birth date is not on the calendar: read, but not used to fill the form.
        scan("022187001234|100234567|Nguyễn Thị Hoa|31021987|Nữ|Hạ Long, Quảng Ninh|15042021")
        assertEquals("scan", screen())
        assertTrue(text("scan-status"), text("scan-status").startsWith("Mã đọc được nhưng thiếu thông tin: birth_date"))
        // The camera kept running: the right card next opens the visit.
        scan(HOA)
        assertEquals("visit", screen())
    }

    @Test fun aRegisteredCitizenIsFoundOnTheFirstScanWithTheAppointmentDay() {
        // The commune's list, uploaded by the coordinator before the clinic day.
        val list = "Họ và tên,Ngày sinh,Giới tính,Số CMND/CCCD,Số điện thoại,Ngày hẹn tiêm\r\n" +
            "Trần Thị Mai,12/03/1990,Nữ,001190012345,0912345678,09/12/2026\r\n"
        val report = hub.upload("/sites/QN-01/registrations", "text/csv", byteArrayOf(0xEF.toByte(), 0xBB.toByte(), 0xBF.toByte()) + list.toByteArray())
        assertTrue(report, report.contains("\"added\":1"))
        enrollThroughTheScreens()
        tap("go-queue")
        tap("queue-sync") // pulls the site's list with the rest of its changes
        activity.onBackPressed(); idle()
        assertEquals("scan", screen())
        // Her card: the desk has her on record already, and says she is expected.
        scan("001190012345||Trần Thị Mai|12031990|Nữ|Ba Đình, Hà Nội|01012021")
        val banner = text("visit-match")
        assertTrue(banner, banner.startsWith("Đã có trong sổ: Trần Thị Mai"))
        assertTrue(banner, banner.contains("Đã đăng ký, hẹn ngày 09/12/2026"))
        assertEquals("0912345678", find<EditText>("field:phone").text.toString())
        screenshot("20-registered")
    }

    @Test fun aDoseGivenElsewhereIsRecordedFromTheVisitAndCounted() {
        enrollThroughTheScreens()
        scan(AYUN)
        assertTrue(text("visit-match").startsWith("Người mới"))
        // His card's id says male; the volunteer taps female: a warning on saving him first.
        tap("sex=female")
        tap("visit-elsewhere") // saves him first, then asks for the earlier dose
        assertEquals("visit", screen())
        assertTrue(visible("visit-confirm"))
        assertEquals("nothing saved yet", 0, app.core.withDesk { it.queue() }.pending.toInt())
        tap("visit-confirm") // confirms and goes on to the dose given elsewhere, not to today's dose
        assertEquals("elsewhere", screen())
        assertEquals(1, app.core.withDesk { it.queue() }.pending.toInt())
        tap("vaccine=AB")
        type("given_elsewhere", "TYT Ninh Kiều, Cần Thơ")
        // Only what is impossible is refused: a day not on the calendar, a day to come.
        type("administered_at", "30/02/2021")
        tap("elsewhere-save")
        assertEquals("elsewhere", screen())
        assertEquals("Ngày tiêm “30/02/2021” không có trên lịch hoặc không theo dạng dd/mm/yyyy.", text("note:administered_at"))
        type("administered_at", "01/01/2099")
        tap("elsewhere-save")
        assertEquals("elsewhere", screen())
        assertTrue(text("note:administered_at"), text("note:administered_at").contains("tương lai"))
        screenshot("19-elsewhere")
        // Abdala at 17, no lot on his paper: saved as it happened, no schedule rule.
        type("administered_at", "10/08/2021")
        tap("elsewhere-save")
        assertEquals("visit", screen())
        assertTrue(text("visit-match"), text("visit-match").contains("Mũi tiếp theo: 2"))
        val history = app.core.withDesk { d -> d.history(d.prepareVisit(org.vaxdesk.core.Scanner().use { it.parse(AYUN) }.draft!!).matched!!.id) }
        assertEquals("TYT Ninh Kiều, Cần Thơ", history.single().givenElsewhere)

        // Today the doctor gives AstraZeneca after Abdala: outside the catalog's
        // mixes, a warning the doctor's call confirms, not a wall.
        tap("visit-save")
        assertEquals("visit", screen())
        assertTrue(visible("visit-confirm"))
        tap("visit-confirm")
        assertEquals("scan", screen())
        assertTrue(text("scan-saved"), text("scan-saved").contains("mũi 2"))
        assertEquals("the person once, the dose given elsewhere, today's dose", 3, app.core.withDesk { it.queue() }.pending.toInt())
    }

    @Test fun aCompletedSeriesShowsTheHubsCertificate() {
        enrollThroughTheScreens()
        // Her first dose, eight weeks ago (as another desk would have synced it).
        app.core.withDesk { desk ->
            val nga = desk.savePerson(org.vaxdesk.core.Scanner().use { it.parse(NGA) }.draft!!, emptyList())
            val earlier = java.time.OffsetDateTime.now().minusWeeks(8).format(java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ssXXX"))
            desk.recordDose(org.vaxdesk.core.DoseDraftInfo(nga.id, "AZ", "AZ2107", null, null, earlier, org.vaxdesk.core.DoseOutcome.VACCINATED, null, null), emptyList())
        }
        // Today: scanned, matched, the second dose saved in one tap.
        scan(NGA)
        assertTrue(text("visit-match"), text("visit-match").contains("Mũi tiếp theo: 2"))
        tap("visit-save")
        assertEquals("scan", screen())
        tap("scan-cert") // syncs, then asks the hub to sign
        assertEquals("certificate", screen())
        assertEquals("Đỗ Thị Nga", text("cert-name"))
        assertTrue(text("cert-details"), text("cert-details").contains("mũi 2/2"))
        assertTrue(text("cert-status").startsWith("Chữ ký của hub hợp lệ"))
        val qr = find<android.widget.ImageView>("cert-qr")
        assertEquals("Mã QR chứng nhận tiêm chủng của người dân", qr.contentDescription)
        screenshot("15-certificate")

        // The QR on screen reads back through the core and verifies offline.
        val bmp = (qr.drawable as android.graphics.drawable.BitmapDrawable).bitmap
        val luma = ByteBuffer.allocateDirect(bmp.width * bmp.height)
        for (y in 0 until bmp.height) for (x in 0 until bmp.width) luma.put((android.graphics.Color.red(bmp.getPixel(x, y))).toByte())
        luma.flip()
        val read = app.core.scanner.decode(luma, bmp.width.toUInt(), bmp.height.toUInt(), bmp.width.toUInt())
        assertEquals("hc1", read.single().kind)
        assertEquals("verified", app.core.withDesk { it.verifyCertificate(read.single().text) }.signature)
    }

    @Test @Config(qualifiers = "en-w360dp-h740dp-xhdpi")
    fun englishWhenTheVolunteerPicksIt() {
        enrollThroughTheScreens()
        tap("go-settings")
        tap("language=en")
        idle()
        assertEquals("Settings", text("title"))
        assertNotNull(root.findViewWithTag<View>("settings-sync"))
        screenshot("12-settings-en")
    }
}
