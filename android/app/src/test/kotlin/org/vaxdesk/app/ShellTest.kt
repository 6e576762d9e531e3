package org.vaxdesk.app

import android.Manifest
import android.app.job.JobInfo
import android.app.job.JobScheduler
import android.graphics.Bitmap
import android.graphics.Canvas
import android.os.Looper
import android.view.View
import android.widget.Button
import android.widget.EditText
import android.widget.TextView
import java.io.File
import java.io.FileOutputStream
import java.nio.ByteBuffer
import java.nio.file.Files
import java.time.Duration
import java.util.concurrent.Executor
import org.junit.AfterClass
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertTrue
import org.junit.Before
import org.junit.BeforeClass
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.Shadows.shadowOf
import org.robolectric.android.controller.ActivityController
import org.robolectric.annotation.Config
import org.robolectric.annotation.GraphicsMode
import org.vaxdesk.app.core.CoreGateway
import org.vaxdesk.app.core.KeyVault
import org.vaxdesk.app.pin.PinScreen
import org.vaxdesk.app.scan.ScanScreen
import org.vaxdesk.app.sync.SyncScheduler
import org.vaxdesk.app.visit.VisitScreen
import org.vaxdesk.testkit.HOA
import org.vaxdesk.testkit.Hub
import org.vaxdesk.testkit.luma
import org.vaxdesk.testkit.render

/**
 * The volunteer's app driven screen by screen on Robolectric, with the real
 * core library and a real hub process. Each screen is drawn to a PNG in
 * docs/screenshots/ as it is reached.
 */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [34], qualifiers = "w360dp-h740dp-xhdpi")
@GraphicsMode(GraphicsMode.Mode.NATIVE)
class ShellTest {
    companion object {
        /** A man's chip-ID card (Hà Nội, born 1990): another person than [HOA]. */
        const val NAM = "001090012345||Lê Văn Nam|15061990|Nam|Ba Đình, Hà Nội|01022022"
        /** A woman's chip-ID card (Hà Nội, born 1985). */
        const val NGA = "001185004567||Đỗ Thị Nga|11111985|Nữ|Cầu Giấy, Hà Nội|02022022"
        /** A woman's chip-ID card (Hồ Chí Minh City, born 1985). */
        const val THU = "079185001234||Phạm Thị Thu|20031985|Nữ|Quận 3, TP Hồ Chí Minh|05052021"
        /** A young man's chip-ID card (Hà Nội, born 2000), seen by no other test. */
        const val KHANH = "001200009999||Vũ Văn Khánh|01012000|Nam|Hà Đông, Hà Nội|03032023"
        private lateinit var dir: File
        private lateinit var hub: Hub

        @BeforeClass @JvmStatic fun startHub() {
            dir = Files.createTempDirectory("vaxdesk-shell").toFile()
            hub = Hub(dir)
        }

        @AfterClass @JvmStatic fun stopHub() {
            hub.close()
            dir.deleteRecursively()
        }
    }

    private lateinit var controller: ActivityController<MainActivity>
    private val activity get() = controller.get()
    private val root: View get() = activity.window.decorView

    @Before fun inlineCore() {
        // Core calls run at once on the test thread: a tap's effect is there when performClick returns.
        val now = Executor { it.run() }
        CoreGateway.executorsForTest = Pair(now, now)
        shadowOf(RuntimeEnvironmentHolder.app()).grantPermissions(Manifest.permission.CAMERA)
        // Robolectric has no AndroidKeyStore: a software AES key goes through the same wrapping code.
        KeyVault.wrappingKeyForTest = newWrappingKey()
    }

    private fun newWrappingKey() = javax.crypto.KeyGenerator.getInstance("AES").apply { init(256) }.generateKey()

    private val files: File get() = RuntimeEnvironmentHolder.app().filesDir
    private val dbPath: String get() = File(files, "desk.db").path

    /** The database file and its WAL, as bytes a thief copying them off the phone would get. */
    private fun rawDatabase(): String =
        listOf("desk.db", "desk.db-wal").map { File(files, it) }.filter { it.exists() }
            .joinToString("") { String(it.readBytes(), Charsets.ISO_8859_1) }

    private fun launch() {
        controller = Robolectric.buildActivity(MainActivity::class.java).setup()
        idle()
    }

    private fun idle() = shadowOf(Looper.getMainLooper()).idle()

    private fun <T : View> find(tag: String): T {
        idle()
        @Suppress("UNCHECKED_CAST")
        return checkNotNull(root.findViewWithTag<View>(tag) as T?) { "no view tagged $tag on ${activity.current?.name}" }
    }

    private fun tap(tag: String) {
        find<View>(tag).performClick()
        idle()
    }

    private fun type(key: String, text: String) = find<EditText>("field:$key").setText(text)
    private fun text(tag: String) = find<TextView>(tag).text.toString()
    private fun visible(tag: String) = root.findViewWithTag<View>(tag)?.visibility == View.VISIBLE

    private fun screenshot(name: String) {
        idle()
        val out = System.getProperty("vaxdesk.screenshots") ?: return
        val v = root
        val bmp = Bitmap.createBitmap(v.width, v.height, Bitmap.Config.ARGB_8888)
        v.draw(Canvas(bmp))
        File(out).mkdirs()
        FileOutputStream(File(out, "android-$name.png")).use { bmp.compress(Bitmap.CompressFormat.PNG, 100, it) }
    }

    /** A picture of [text] as the camera's Y plane, in a direct buffer as camera2 gives it. */
    private fun frameOf(text: String): Triple<ByteBuffer, Int, Int> {
        val (pixels, w, h) = luma(render(text, dir, 640, 480))
        val buf = ByteBuffer.allocateDirect(pixels.size).put(pixels)
        buf.flip()
        return Triple(buf, w, h)
    }

    private fun scan(text: String) {
        val screen = activity.current as ScanScreen
        val (buf, w, h) = frameOf(text)
        screen.onFrame(buf, w, h, w)
        idle()
    }

    /** Enroll, set the PIN and start an AZ session through the screens. */
    private fun enrollThroughTheScreens(shots: Boolean) {
        launch()
        assertEquals("enroll", activity.current?.name)
        if (shots) screenshot("01-enroll")
        type("code", hub.enrollmentText())
        tap("enroll-go")
        assertEquals("pin-set", activity.current?.name)
        if (shots) screenshot("02-pin-set")
        type("pin", "2468"); tap("pin-ok")
        type("pin", "2468"); tap("pin-ok")
        assertEquals("session", activity.current?.name)
        assertEquals("Điểm tiêm: Trạm y tế Hồng Hải (QN-01)", text("session-site"))
        tap("vaccine=AZ")
        if (shots) screenshot("03-session")
        tap("session-start")
        assertEquals("scan", activity.current?.name)
    }

    @Test fun enrollScanSaveQueueAndSyncToTheHub() {
        enrollThroughTheScreens(shots = true)
        val secure = android.view.WindowManager.LayoutParams.FLAG_SECURE
        assertTrue("screens with personal data are kept out of screenshots", activity.window.attributes.flags and secure != 0)
        assertTrue(text("scan-session").contains("AZ2107"))
        screenshot("04-scan")

        scan(HOA)
        val visit = activity.current
        assertTrue("a CCCD scan opens the form at once", visit is VisitScreen)
        assertEquals("Nguyễn Thị Hoa", find<EditText>("field:full_name").text.toString())
        assertEquals("022187001234", find<EditText>("field:national_id").text.toString())
        assertTrue(find<Button>("sex=female").isSelected)
        assertTrue(text("visit-match").startsWith("Người mới"))
        screenshot("05-visit")

        tap("visit-save") // the one tap from a good scan to a saved dose
        assertEquals("scan", activity.current?.name)
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
        assertTrue(text("settings-device").contains(app().core.desk.deviceId()))
        screenshot("07-settings")
        tap("settings-guide")
        assertTrue(text("guide-text").contains("Khi không có mạng"))
        screenshot("08-guide")
    }

    /** The texts of every view tagged [tag] (list rows). */
    private fun rowTexts(tag: String): List<String> {
        idle()
        val out = ArrayList<String>()
        fun walk(v: View) {
            if (v.tag == tag && v is TextView) out.add(v.text.toString())
            if (v is android.view.ViewGroup) for (i in 0 until v.childCount) walk(v.getChildAt(i))
        }
        walk(root)
        return out
    }

    private fun app() = activity.application as VaxdeskApp

    @Test fun aRefusedSaveShowsTheFieldsMessageAndAWarningTakesOneTapToConfirm() {
        enrollThroughTheScreens(shots = false)
        tap("scan-manual")
        type("full_name", "Trần Văn Bình")
        type("national_id", "12345")
        type("birth_date", "01/01/1990")
        tap("visit-save")
        assertEquals("visit", activity.current?.name)
        assertTrue(visible("note:national_id"))
        assertEquals("Số CCCD có 12 chữ số (CMND cũ 9 hoặc 12).", text("note:national_id"))
        assertFalse("an error cannot be confirmed away", visible("visit-confirm"))
        screenshot("09-refused")
        assertEquals("nothing was saved", 0uL, app().core.desk.queue().pending)

        // A CCCD whose sex digit says female, saved as male: a warning.
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
        assertEquals(root.findViewWithTag<TextView>("visit-message")?.text.toString(), "scan", activity.current?.name)
        assertEquals(2uL, app().core.desk.queue().pending)
    }

    @Test fun pinLocksOnStartLocksOutAfterFiveWrongAndAfterFiveMinutesAway() {
        enrollThroughTheScreens(shots = false)
        // A new start of the app asks for the PIN.
        app().state.unlocked = false
        controller.pause().stop(); controller.restart().resume(); idle()
        assertEquals("pin", activity.current?.name)
        type("pin", "2468"); tap("pin-ok")
        assertEquals("scan", activity.current?.name)

        // Four minutes away: still open. Five: locked.
        controller.pause().stop()
        shadowOf(Looper.getMainLooper()).idleFor(Duration.ofMinutes(4))
        controller.restart().resume(); idle()
        assertEquals("scan", activity.current?.name)
        controller.pause().stop()
        val away = android.os.SystemClock.elapsedRealtime()
        shadowOf(Looper.getMainLooper()).idleFor(Duration.ofMinutes(5))
        assertTrue(android.os.SystemClock.elapsedRealtime() - away >= 300_000)
        controller.restart().resume(); idle()
        assertEquals("bg=${app().state.backgroundSince} unlocked=${app().state.unlocked} now=${android.os.SystemClock.elapsedRealtime()}", "pin", activity.current?.name)
        activity.onBackPressed(); idle()
        assertEquals("the lock cannot be backed out of", "pin", activity.current?.name)

        for (left in 4 downTo 1) {
            type("pin", "1111"); tap("pin-ok")
            assertEquals("Sai mã PIN. Còn $left lần thử.", text("pin-message"))
        }
        type("pin", "1111"); tap("pin-ok")
        assertTrue(text("pin-message"), text("pin-message").startsWith("Nhập sai quá nhiều lần"))
        type("pin", "2468"); tap("pin-ok")
        assertEquals("even the right PIN waits out the lockout", "pin", activity.current?.name)
        assertTrue(text("pin-message").startsWith("Nhập sai quá nhiều lần"))
        screenshot("11-pin-locked")
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
        val mixes = c.getJSONArray("mixes")
        for (i in 0 until mixes.length()) {
            val then = mixes.getJSONObject(i).getJSONArray("then")
            for (j in then.length() - 1 downTo 0) if (then.getString(j) == vaccine) then.remove(j)
        }
        return c.put("version", catalog.getInt("version") + 1)
    }

    @Test fun aDoseTheHubRefusesIsFixedFromTheQueue() {
        enrollThroughTheScreens(shots = false)
        // The coordinator publishes a catalog without AstraZeneca by mistake...
        val catalog = org.json.JSONObject(hub.call("GET", "/catalog", ""))
        hub.call("PUT", "/catalog", catalogWithout(catalog, "AZ").toString())
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
        assertEquals("fix", activity.current?.name)
        assertTrue(text("fix-reason").contains("vaccine"))
        assertEquals("Phạm Thị Thu", find<EditText>("field:full_name").text.toString())
        screenshot("14-fix")
        tap("visit-save")
        assertEquals("queue", activity.current?.name)
        assertEquals("Cần sửa: 0", text("queue-to-fix"))
        assertEquals("only the fresh record goes out", "Chờ gửi: 1", text("queue-pending"))
        tap("queue-sync")
        assertEquals("Chờ gửi: 0", text("queue-pending"))
        assertEquals("Cần sửa: 0", text("queue-to-fix"))
        assertEquals("the refused record is voided, the fresh one listed", 1, rowTexts("dose-row").count { "Phạm Thị Thu" in it })
    }

    @Test fun aCompletedSeriesShowsTheHubsCertificate() {
        enrollThroughTheScreens(shots = false)
        // Her first dose, eight weeks ago (as another desk would have synced it).
        val desk = app().core.desk
        val nga = desk.savePerson(org.vaxdesk.core.Scanner().use { it.parse(NGA) }.draft!!, emptyList())
        val earlier = java.time.OffsetDateTime.now().minusWeeks(8).withNano(0).toString()
        desk.recordDose(org.vaxdesk.core.DoseDraftInfo(nga.id, "AZ", "AZ2107", null, null, earlier, org.vaxdesk.core.DoseOutcome.VACCINATED, null), emptyList())
        // Today: scanned, matched, the second dose saved in one tap.
        scan(NGA)
        assertTrue(text("visit-match"), text("visit-match").contains("Mũi tiếp theo: 2"))
        tap("visit-save")
        assertEquals("scan", activity.current?.name)
        tap("scan-cert") // syncs, then asks the hub to sign
        assertEquals("certificate", activity.current?.name)
        assertEquals("Đỗ Thị Nga", text("cert-name"))
        assertTrue(text("cert-details"), text("cert-details").contains("mũi 2/2"))
        assertTrue(text("cert-status").startsWith("Chữ ký của hub hợp lệ"))
        screenshot("15-certificate")

        // The QR on screen reads back through the core and verifies offline.
        val bmp = (find<android.widget.ImageView>("cert-qr").drawable as android.graphics.drawable.BitmapDrawable).bitmap
        val luma = ByteBuffer.allocateDirect(bmp.width * bmp.height)
        for (y in 0 until bmp.height) for (x in 0 until bmp.width) luma.put((android.graphics.Color.red(bmp.getPixel(x, y))).toByte())
        luma.flip()
        val read = app().core.scanner.decode(luma, bmp.width.toUInt(), bmp.height.toUInt(), bmp.width.toUInt())
        assertEquals("hc1", read.single().kind)
        assertEquals("verified", app().core.desk.verifyCertificate(read.single().text).signature)
    }

    @Test @Config(qualifiers = "en-w360dp-h740dp-xhdpi")
    fun englishWhenTheVolunteerPicksIt() {
        enrollThroughTheScreens(shots = false)
        tap("go-settings")
        tap("language=en")
        idle()
        assertEquals("Settings", text("title"))
        assertNotNull(root.findViewWithTag<View>("settings-sync"))
        screenshot("12-settings-en")
    }

    @Test fun theDatabaseOpensWithTheKeystoresKeyForTheBackgroundSyncAndWithThePinWithoutIt() {
        enrollThroughTheScreens(shots = false)
        scan(KHANH)
        tap("visit-save")
        assertEquals(root.findViewWithTag<TextView>("visit-message")?.text.toString(), "scan", activity.current?.name)
        assertEquals(2uL, app().core.desk.queue().pending)
        assertTrue(File(files, "desk.key").exists())
        assertFalse(String(File(files, "desk.key").readBytes(), Charsets.ISO_8859_1).contains("2468"))

        // A new process (the sync job after a reboot): the kept key opens the database, no PIN typed.
        val background = CoreGateway.open(RuntimeEnvironmentHolder.app())
        assertTrue(background.openWithoutPin())
        assertEquals(2uL, background.desk.queue().pending)
        background.desk.close()

        // The keystore lost its key (or never had one): the database stays shut until the PIN is typed.
        KeyVault.wrappingKeyForTest = newWrappingKey()
        val locked = CoreGateway.open(RuntimeEnvironmentHolder.app())
        assertFalse(locked.openWithoutPin())
        assertFalse(locked.isOpen)
        val wrongKey = assertThrowsStorage { locked.unlock("1357") }
        assertEquals("storage.wrong_key", wrongKey)
        assertFalse(locked.isOpen)
        locked.unlock("2468")
        assertEquals(2uL, locked.desk.queue().pending)
        assertTrue("re-wrapped under the keystore's new key", File(files, "desk.key").exists())
        locked.desk.close()
        assertTrue(CoreGateway.open(RuntimeEnvironmentHolder.app()).openWithoutPin())
    }

    private fun assertThrowsStorage(work: () -> Unit): String = try {
        work()
        throw AssertionError("expected a storage error")
    } catch (e: org.vaxdesk.core.VaxdeskException.Storage) {
        e.code
    }

    @Test fun withoutAKeptKeyTheLockScreenOpensTheDatabase() {
        // A phone enrolled and locked earlier, whose keystore cannot give the key back.
        org.vaxdesk.core.Desk.open(dbPath, null).use { it.enroll(hub.enrollmentText(), "test phone") }
        org.vaxdesk.core.PinLock.open(File(files, "pin.json").path).setAndEncrypt(dbPath, "2468")
        assertFalse(File(files, "desk.key").exists())
        launch()
        assertEquals("only the lock screen until the PIN opens the database", "pin", activity.current?.name)
        assertFalse(app().core.isOpen)
        type("pin", "1357"); tap("pin-ok")
        assertEquals("Sai mã PIN. Còn 4 lần thử.", text("pin-message"))
        assertFalse(app().core.isOpen)
        type("pin", "2468"); tap("pin-ok")
        assertEquals("session", activity.current?.name)
        assertTrue(app().core.isOpen)
        assertTrue("kept for the background sync from now on", File(files, "desk.key").exists())
    }

    @Test fun changingThePinReKeysTheDatabase() {
        enrollThroughTheScreens(shots = false)
        tap("go-settings")
        tap("settings-pin")
        assertEquals("pin-change", activity.current?.name)
        type("pin", "1357"); tap("pin-ok") // taken as the current PIN...
        type("pin", "8642"); tap("pin-ok")
        type("pin", "8642"); tap("pin-ok")
        assertEquals("...and refused by the core", "Sai mã PIN. Còn 4 lần thử.", text("pin-message"))
        assertEquals("pin-change", activity.current?.name)
        type("pin", "2468"); tap("pin-ok")
        type("pin", "8642"); tap("pin-ok")
        type("pin", "8642"); tap("pin-ok")
        assertEquals("settings", activity.current?.name)
        assertTrue(text("settings-message").startsWith("Đã đổi mã PIN"))
        screenshot("16-pin-changed")
        assertEquals(0uL, app().core.desk.queue().pending) // still open, under the new key

        assertEquals("storage.wrong_key", assertThrowsStorage { org.vaxdesk.core.Desk.open(dbPath, "2468").close() })
        org.vaxdesk.core.Desk.open(dbPath, "8642").use { assertEquals(app().core.desk.deviceId(), it.deviceId()) }
        val later = CoreGateway.open(RuntimeEnvironmentHolder.app())
        assertTrue("the kept key is the new PIN's", later.openWithoutPin())
        later.desk.close()
    }

    @Test fun aDamagedDatabaseShowsTheCoresErrorInsteadOfCrashing() {
        org.vaxdesk.core.PinLock.open(File(files, "pin.json").path).set("2468")
        File(dbPath).writeBytes(ByteArray(8192) { 0x42 })
        File("$dbPath-salt").writeBytes(ByteArray(16) { 7 })
        assertTrue(KeyVault.forDevice(File(files, "desk.key")).store(ByteArray(32) { 1 }))
        launch()
        assertEquals("pin", activity.current?.name)
        assertFalse("a kept key that does not open the file is forgotten", File(files, "desk.key").exists())
        type("pin", "1357"); tap("pin-ok")
        assertEquals("a wrong PIN is only a wrong PIN", "pin", activity.current?.name)
        type("pin", "2468"); tap("pin-ok")
        assertEquals("the right PIN shows the problem", "storage-problem", activity.current?.name)
        assertTrue(text("storage-message"), text("storage-message").startsWith("Lỗi lưu trữ trên máy (storage."))
        assertTrue("what was on the phone is left as it was", File(dbPath).readBytes().all { it == 0x42.toByte() })
        screenshot("17-storage-problem")

        // Setting it aside takes two taps; the files are moved, never deleted, and the phone enrolls again.
        tap("storage-set-aside")
        assertEquals("storage-problem", activity.current?.name)
        assertTrue(File(dbPath).exists())
        tap("storage-set-aside")
        assertEquals("enroll", activity.current?.name)
        val aside = File(files, "set-aside").listFiles().orEmpty().single()
        assertTrue(File(aside, "desk.db").readBytes().all { it == 0x42.toByte() })
        assertTrue(File(aside, "desk.db-salt").exists() && File(aside, "pin.json").exists())
        assertFalse(File(files, "pin.json").exists())
        assertFalse("a fresh database in its place", File(dbPath).readBytes().all { it == 0x42.toByte() })
        assertFalse(app().core.pin.isSet())
    }

    @Test fun aDamagedDatabaseWithoutAPinShowsTheProblemAtOnce() {
        File(dbPath).writeBytes(ByteArray(8192) { 0x42 })
        launch()
        assertEquals("storage-problem", activity.current?.name)
        assertTrue(text("storage-message"), text("storage-message").startsWith("Lỗi lưu trữ trên máy (storage."))
        tap("storage-set-aside"); tap("storage-set-aside")
        assertEquals("enroll", activity.current?.name)
        assertTrue(File(File(files, "set-aside").listFiles().orEmpty().single(), "desk.db").exists())
        assertTrue("a fresh desk is open for enrolling", app().core.isOpen && app().core.desk.status().hub == null)
    }
}
