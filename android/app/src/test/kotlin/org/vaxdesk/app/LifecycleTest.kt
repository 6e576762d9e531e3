package org.vaxdesk.app

import android.content.pm.ApplicationInfo
import android.content.res.Configuration
import android.os.Bundle
import android.os.Handler
import android.os.Looper
import android.widget.EditText
import java.net.ServerSocket
import java.net.Socket
import java.util.concurrent.ConcurrentLinkedQueue
import java.util.concurrent.Executor
import java.util.concurrent.Executors
import java.util.concurrent.atomic.AtomicInteger
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.Shadows.shadowOf
import org.vaxdesk.app.core.CoreGateway
import org.vaxdesk.app.core.Outcome
import org.vaxdesk.app.visit.VisitScreen
import org.vaxdesk.core.VaxdeskException
import org.vaxdesk.testkit.HOA

/**
 * What a phone does to an app that the JVM tests of one screen never see:
 * recreation (font size, dark mode, multi-window) and process death with a
 * half-typed visit; results that come back after the volunteer moved on;
 * a save while a sync waits on a dead network; a core that throws what it
 * should not; a hub at a plain-http address; backups and device transfers.
 */
@RunWith(RobolectricTestRunner::class)
class LifecycleTest : Shell() {
    private fun halfTypedVisit() {
        enrollThroughTheScreens()
        scan(HOA)
        assertEquals("visit", screen())
        type("phone", "0912345678")
        type("full_name", "Nguyễn Thị Hòa")
        tap("outcome=deferred")
    }

    private fun assertTheVisitCameBack() {
        assertTrue(activity.current is VisitScreen)
        assertEquals("Nguyễn Thị Hòa", find<EditText>("field:full_name").text.toString())
        assertEquals("0912345678", find<EditText>("field:phone").text.toString())
        assertEquals("022187001234", find<EditText>("field:national_id").text.toString())
        assertTrue("the outcome chosen", find<android.widget.Button>("outcome=deferred").isSelected)
    }

    @Test fun aRecreatedActivityBringsBackTheHalfTypedVisit() {
        halfTypedVisit()
        controller.recreate()
        idle()
        assertTheVisitCameBack()
        // Back leads where it led before: the scan screen.
        activity.onBackPressed(); idle()
        assertEquals("scan", screen())
    }

    @Test fun aFontSizeOrDarkModeChangeKeepsTheScreenAndTheTyping() {
        halfTypedVisit()
        val before = activity
        val bigger = Configuration(activity.resources.configuration).apply {
            fontScale = 1.3f
            uiMode = Configuration.UI_MODE_NIGHT_YES or Configuration.UI_MODE_TYPE_NORMAL
        }
        controller.configurationChange(bigger)
        idle()
        assertTrue("handled in place (manifest configChanges): the same activity", before === activity)
        assertTheVisitCameBack()
    }

    @Test fun afterAProcessDeathThePinComesFirstThenTheVisit() {
        halfTypedVisit()
        val saved = Bundle()
        controller.pause().saveInstanceState(saved).stop().destroy()
        app.simulateProcessDeath()

        controller = Robolectric.buildActivity(MainActivity::class.java).setup(saved)
        idle()
        assertEquals("the lock first: a new process has not seen the PIN", "pin", screen())
        // The phone saves the state again while the lock is up, and ends the process again.
        val again = Bundle()
        controller.pause().saveInstanceState(again).stop().destroy()
        app.simulateProcessDeath()
        controller = Robolectric.buildActivity(MainActivity::class.java).setup(again)
        idle()
        assertEquals("pin", screen())
        type("pin", PIN); tap("pin-ok")
        assertTheVisitCameBack()
        tap("visit-save")
        assertEquals("scan", screen())
        assertEquals("saved once, as a deferral", 1, app.core.withDesk { it.todaysDoses() }.size)
    }

    /** Calls held back until the test lets them run: a slow phone, made slower. */
    private class HeldLane : Executor {
        val held = ConcurrentLinkedQueue<Runnable>()
        override fun execute(command: Runnable) { held.add(command) }
        fun runAll() { while (true) (held.poll() ?: return).run() }
    }

    @Test fun aResultThatComesBackAfterTheVolunteerMovedOnActsOnNothing() {
        val work = HeldLane()
        val main = Handler(Looper.getMainLooper())
        CoreGateway.lanesForTest = CoreGateway.Lanes(work = work, sync = Executor { it.run() }, main = Executor { main.post(it) })
        addBackCamera()
        launch()
        // Nothing of the core on the main thread at start: the library and the database wait for the lane.
        assertEquals("starting", screen())
        assertFalse(app.core.isOpen)
        work.runAll(); idle()
        assertEquals("enroll", screen())
        type("code", hub.enrollmentText()); tap("enroll-go")
        type("pin", PIN); tap("pin-ok"); type("pin", PIN); tap("pin-ok"); work.runAll(); idle()
        tap("vaccine=AZ"); tap("session-start"); work.runAll(); idle()
        assertEquals("scan", screen())
        scan(HOA); work.runAll(); idle()
        assertEquals("visit", screen())

        // Save (a double tap queues one save), then back out before the save came back: the save's
        // "back" must not pop the scan screen (the root: that would close the app).
        tap("visit-save")
        tap("visit-save")
        assertEquals("one save for two taps", 1, work.held.size)
        activity.onBackPressed(); idle()
        assertEquals("scan", screen())
        work.runAll(); idle()
        assertEquals("scan", screen())
        assertFalse("the app is still open", activity.isFinishing)
        assertTrue("what was saved is saved", app.state.lastSaved!!.contains("Nguyễn Thị Hoa"))

        // A save still running when the lock comes up (five minutes away): the lock stays.
        scan(KHANH); work.runAll(); idle()
        tap("visit-save")
        controller.pause().stop()
        shadowOf(Looper.getMainLooper()).idleFor(java.time.Duration.ofMinutes(6))
        controller.restart().resume(); idle()
        assertEquals("pin", screen())
        work.runAll(); idle()
        assertEquals("the late save does not lift the PIN lock", "pin", screen())
        assertEquals(2, app.core.withDesk { it.todaysDoses() }.size)
    }

    /** A hub that accepts connections and never answers: a congested site network. */
    private class DeadNetwork(port: Int) : AutoCloseable {
        private val server = ServerSocket().apply { reuseAddress = true; bind(java.net.InetSocketAddress("127.0.0.1", port)) }
        private val held = ConcurrentLinkedQueue<Socket>()
        private val accepting = Thread { while (!server.isClosed) runCatching { held.add(server.accept()) } }.apply { isDaemon = true; start() }
        override fun close() {
            server.close()
            held.forEach { runCatching { it.close() } }
            accepting.join(2000)
        }
    }

    /** A lane on a real thread that knows whether it is busy. */
    private class Lane(name: String) : Executor {
        val running = AtomicInteger()
        private val thread = Executors.newSingleThreadExecutor { r -> Thread(r, name).apply { isDaemon = true } }
        override fun execute(command: Runnable) {
            thread.execute { running.incrementAndGet(); try { command.run() } finally { running.decrementAndGet() } }
        }
    }

    private fun waitFor(what: String, seconds: Long = 30, done: () -> Boolean) {
        val until = System.currentTimeMillis() + seconds * 1000
        while (!done()) {
            check(System.currentTimeMillis() < until) { "waited ${seconds}s for $what" }
            idle()
            Thread.sleep(20)
        }
    }

    @Test fun aSaveNeverWaitsBehindASyncOnADeadNetwork() {
        val (work, sync) = Lane("test-core") to Lane("test-sync")
        val main = Handler(Looper.getMainLooper())
        CoreGateway.lanesForTest = CoreGateway.Lanes(work = work, sync = sync, main = Executor { main.post(it) })
        // A hub of its own: this one is silenced mid-test.
        val ownDir = java.nio.file.Files.createTempDirectory("vaxdesk-dead").toFile()
        val own = org.vaxdesk.testkit.Hub(ownDir)
        addBackCamera()
        launch(); waitFor("start") { screen() == "enroll" }
        type("code", own.enrollmentText()); tap("enroll-go"); waitFor("enrolled") { screen() == "pin-set" }
        type("pin", PIN); tap("pin-ok"); type("pin", PIN); tap("pin-ok"); waitFor("the PIN") { screen() == "session" }
        waitFor("the first sync") { sync.running.get() == 0 && root.findViewWithTag<android.view.View>("vaccine=AZ") != null }
        tap("vaccine=AZ"); tap("session-start"); waitFor("the session") { screen() == "scan" }

        // The hub goes silent: a sync now waits (with retries) on connections that never answer.
        own.close()
        val dead = DeadNetwork(own.port)
        try {
            tap("go-queue"); waitFor("the queue") { root.findViewWithTag<android.view.View>("queue-sync") != null }
            tap("queue-sync")
            waitFor("the sync to start") { sync.running.get() == 1 }
            activity.onBackPressed(); idle()
            previewAppears()
            scan(HOA)
            waitFor("the visit's look-up") { root.findViewWithTag<android.widget.TextView>("visit-match")?.text?.isNotEmpty() == true }
            tap("visit-save")
            waitFor("the save", seconds = 10) { screen() == "scan" }
            assertEquals("the sync is still waiting on the network", 1, sync.running.get())
            assertTrue(app.state.lastSaved!!.contains("Nguyễn Thị Hoa"))

            // Away six minutes, back to the lock: the PIN opens the app at once, not after the sync.
            controller.pause().stop()
            shadowOf(Looper.getMainLooper()).idleFor(java.time.Duration.ofMinutes(6))
            controller.restart().resume(); idle()
            assertEquals("pin", screen())
            type("pin", PIN); tap("pin-ok")
            waitFor("the unlock", seconds = 10) { screen() == "scan" }
            assertEquals("the sync is still waiting on the network", 1, sync.running.get())
        } finally {
            dead.close()
            ownDir.deleteRecursively()
        }
        waitFor("the sync to give up", seconds = 120) { sync.running.get() == 0 }
        assertEquals(2uL, app.core.withDesk { it.queue() }.pending)
    }

    /**
     * While the PIN is set or changed the database is closed and re-keyed:
     * screens shown or rebuilt meanwhile read what they show from the facts
     * kept in memory, never from the closed database (which crashed them).
     */
    @Test fun screensBuildWhileTheDatabaseIsClosedForAReKey() {
        enrollThroughTheScreens()
        app.core.close() // as PinScreen's re-key does, on the core's lane
        for (go in listOf("go-settings")) tap(go)
        assertEquals("settings", screen())
        assertTrue(text("settings-hub").contains(hub.url))
        activity.onBackPressed(); idle()
        assertEquals("scan", screen())
        assertTrue(text("scan-session").contains("AZ2107"))
        controller.configurationChange(Configuration(activity.resources.configuration).apply { fontScale = 1.15f })
        idle()
        assertEquals("scan", screen())
        // A call made meanwhile waits for nothing and fails cleanly, with a message, not a crash.
        var outcome: Outcome<Any>? = null
        app.core.run({ it.queue() }) { outcome = it }
        idle()
        assertTrue((outcome as Outcome.Failed).error is VaxdeskException.NotSetUp)
    }

    @Test fun anUnexpectedExceptionFromACoreCallReachesTheScreenAsAMessage() {
        enrollThroughTheScreens()
        var outcome: Outcome<Unit>? = null
        app.core.run({ throw IllegalStateException("Desk object has already been destroyed") }) { outcome = it }
        idle()
        val failed = outcome as Outcome.Failed
        assertTrue(failed.error is VaxdeskException.Internal)
        assertEquals("IllegalStateException: Desk object has already been destroyed", (failed.error as VaxdeskException.Internal).detail)
        assertEquals(
            "Ứng dụng gặp lỗi (IllegalStateException: Desk object has already been destroyed). Dữ liệu đã lưu không bị mất; hãy thử lại.",
            org.vaxdesk.app.core.Messages.error(activity, failed.error),
        )
        // A frame the core refuses (a wrong size) is no code, not a crash on the camera thread.
        val tiny = java.nio.ByteBuffer.allocateDirect(4)
        scanScreen.onFrame(tiny, 640, 480, 640)
        assertEquals("scan", screen())
    }

    @Test fun aPlainHttpHubIsRefusedBeforeAnythingIsSent() {
        launch()
        val plain = "VXD1:{\"hub\":\"http://127.0.0.1:${hub.port}\",\"code\":\"ABCD-EFGH-JKLM\"}"
        type("code", plain)
        tap("enroll-go")
        assertEquals("enroll", screen())
        assertTrue(text("enroll-message"), text("enroll-message").startsWith("Mã đăng ký chỉ tới máy chủ không mã hóa (http)"))
        assertFalse(app.core.facts!!.enrolled)
        assertEquals("nothing kept to retry", null, app.core.facts!!.pendingEnrollment)
    }

    @Test fun nothingOfTheAppLeavesThePhoneByBackupOrDeviceTransfer() {
        launch()
        val info = app.packageManager.getApplicationInfo(app.packageName, 0)
        assertEquals("no backup", 0, info.flags and ApplicationInfo.FLAG_ALLOW_BACKUP)
        assertEquals("no cleartext traffic", 0, info.flags and ApplicationInfo.FLAG_USES_CLEARTEXT_TRAFFIC)
        // The manifest names the rules (Robolectric does not read these two attributes itself).
        val manifest = javax.xml.parsers.DocumentBuilderFactory.newInstance().apply { isNamespaceAware = true }
            .newDocumentBuilder().parse(java.io.File("android/app/src/main/AndroidManifest.xml"))
        val application = manifest.getElementsByTagName("application").item(0) as org.w3c.dom.Element
        val ns = "http://schemas.android.com/apk/res/android"
        assertEquals("@xml/data_extraction_rules", application.getAttributeNS(ns, "dataExtractionRules"))
        assertEquals("@xml/backup_rules", application.getAttributeNS(ns, "fullBackupContent"))
        assertEquals("false", application.getAttributeNS(ns, "allowBackup"))
        assertEquals("false", application.getAttributeNS(ns, "usesCleartextTraffic"))
        // Both sections exclude every domain the app writes to (the database, its salt, the PIN file, the key).
        val parser = app.resources.getXml(R.xml.data_extraction_rules)
        val excluded = HashMap<String, MutableSet<String>>()
        var section = ""
        while (parser.next() != org.xmlpull.v1.XmlPullParser.END_DOCUMENT) {
            if (parser.eventType != org.xmlpull.v1.XmlPullParser.START_TAG) continue
            when (parser.name) {
                "cloud-backup", "device-transfer" -> section = parser.name
                "exclude" -> if (parser.getAttributeValue(null, "path") == ".") excluded.getOrPut(section) { mutableSetOf() }.add(parser.getAttributeValue(null, "domain"))
                "include" -> throw AssertionError("nothing is included: ${parser.getAttributeValue(null, "domain")}")
            }
        }
        for (s in listOf("cloud-backup", "device-transfer")) {
            assertTrue("$s: ${excluded[s]}", excluded[s].orEmpty().containsAll(listOf("root", "file", "database", "sharedpref")))
        }
        // The activity handles what a volunteer changes mid-visit instead of being recreated.
        val activityInfo = app.packageManager.getActivityInfo(android.content.ComponentName(app, MainActivity::class.java), 0)
        for (change in listOf(
            android.content.pm.ActivityInfo.CONFIG_FONT_SCALE, android.content.pm.ActivityInfo.CONFIG_LOCALE,
            android.content.pm.ActivityInfo.CONFIG_UI_MODE, android.content.pm.ActivityInfo.CONFIG_DENSITY,
            android.content.pm.ActivityInfo.CONFIG_SCREEN_LAYOUT, android.content.pm.ActivityInfo.CONFIG_SMALLEST_SCREEN_SIZE,
        )) assertTrue("configChanges has $change", activityInfo.configChanges and change != 0)
    }
}
