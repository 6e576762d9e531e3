package org.vaxdesk.app

import android.Manifest
import android.hardware.camera2.CameraManager
import android.os.Looper
import android.provider.Settings
import android.view.TextureView
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.Shadows.shadowOf
import org.robolectric.shadow.api.Shadow
import org.vaxdesk.app.scan.CameraChoice
import org.vaxdesk.app.scan.CameraFeed
import org.vaxdesk.app.scan.FrameGate
import org.vaxdesk.app.visit.VisitScreen
import org.vaxdesk.testkit.HOA

/**
 * The camera as a phone runs it: the permission flow on a fresh install,
 * the camera through the camera manager (opened, configured, frames through
 * the camera thread), the activity's lifecycle (screen off and back, another
 * screen on top), and a feed stopped while camera2 is still answering.
 */
@RunWith(RobolectricTestRunner::class)
class CameraTest : Shell() {
    private fun device(feed: CameraFeed) = feed.deviceForTest?.let { Shadow.extract<Sdk34CameraDevice>(it) }

    /** Up to the scan screen with the camera permission not yet given (a fresh install). */
    private fun toScanWithoutPermission() {
        shadowOf(app).denyPermissions(Manifest.permission.CAMERA)
        addBackCamera()
        launch()
        type("code", hub.enrollmentText()); tap("enroll-go")
        type("pin", PIN); tap("pin-ok"); type("pin", PIN); tap("pin-ok")
        tap("vaccine=AZ"); tap("session-start")
        assertEquals("scan", screen())
    }

    @Test fun theFirstScanAsksForThePermissionAndOpensTheCameraOnlyOnceGranted() {
        toScanWithoutPermission()
        // The preview's surface appears before the volunteer answered: nothing opens, nothing crashes.
        previewAppears()
        assertNull("no camera before the permission", scanScreen.feedForTest)
        assertEquals(Manifest.permission.CAMERA, shadowOf(activity).lastRequestedPermission.requestedPermissions.single())

        answerCameraPermission(grant = false)
        assertNull(scanScreen.feedForTest)
        assertTrue(text("scan-status"), text("scan-status").startsWith("Chưa cho phép dùng camera"))
        assertTrue("the volunteer can be asked again", visible("scan-ask-again"))
        assertFalse(visible("scan-open-settings"))
        assertTrue("typing stays possible", visible("scan-manual"))
        screenshot("18-camera-refused")

        tap("scan-ask-again")
        answerCameraPermission(grant = true)
        cameraSettles()
        val feed = checkNotNull(scanScreen.feedForTest) { "the camera did not start once granted" }
        assertNotNull("the camera manager opened the back camera", feed.deviceForTest)
        val camera = device(feed)!!
        assertEquals("a session was configured", 1, camera.sessions)
        assertTrue("a torch button where there is a flash", visible("scan-torch"))
        assertFalse(visible("scan-ask-again"))
        assertEquals("the preview is described for a screen reader", "Hình từ camera: đưa mã QR vào khung này", find<TextureView>("scan-preview").contentDescription)

        // A frame from the camera thread reads the card and opens the visit.
        scan(HOA)
        assertTrue(activity.current is VisitScreen)
        feed.looperForTest.thread.join(5000)
        assertTrue("the camera is closed once the code is read", camera.closed)
    }

    @Test fun aPermissionRefusedForGoodLeadsToTheAppsSettings() {
        toScanWithoutPermission()
        previewAppears()
        answerCameraPermission(grant = false, dontAskAgain = true)
        assertTrue(visible("scan-open-settings"))
        assertFalse(visible("scan-ask-again"))
        tap("scan-open-settings")
        val intent = shadowOf(activity).nextStartedActivity
        assertEquals(Settings.ACTION_APPLICATION_DETAILS_SETTINGS, intent.action)
        assertEquals("package:org.vaxdesk.app", intent.dataString)

        // Granted in the settings; back in the app, the camera starts by itself.
        controller.pause().stop()
        shadowOf(app).grantPermissions(Manifest.permission.CAMERA)
        controller.restart().resume(); idle()
        cameraSettles()
        assertNotNull(scanScreen.feedForTest)
        assertFalse(visible("scan-open-settings"))
    }

    @Test fun theCameraClosesWhenTheScreenGoesOffAndComesBackWithIt() {
        enrollThroughTheScreens()
        val first = scanScreen.feedForTest!!
        val firstCamera = device(first)!!

        // The screen turns off (or the volunteer answers a call): the camera is released.
        controller.pause().stop()
        first.looperForTest.thread.join(5000)
        assertTrue("released on pause", firstCamera.closed)
        assertNull(scanScreen.feedForTest)

        // Back after a minute (no PIN yet): the same screen, a live camera again.
        shadowOf(Looper.getMainLooper()).idleFor(java.time.Duration.ofMinutes(1))
        controller.restart().resume(); idle()
        cameraSettles()
        assertEquals("scan", screen())
        val second = checkNotNull(scanScreen.feedForTest) { "the camera did not come back" }
        assertFalse(device(second)!!.closed)
        scan(KHANH)
        assertEquals("visit", screen())

        // Another screen on top closes it too; coming back (preview rebuilt) opens it again.
        activity.onBackPressed(); idle()
        previewAppears()
        val third = scanScreen.feedForTest!!
        val thirdCamera = device(third)!!
        tap("go-queue")
        third.looperForTest.thread.join(5000)
        assertTrue(thirdCamera.closed)
        activity.onBackPressed(); idle()
        previewAppears()
        assertNotNull(scanScreen.feedForTest)
    }

    @Test fun aFeedStoppedWhileTheCameraOpensOrConfiguresLeavesNothingOpen() {
        addBackCamera(flash = false)
        launch()
        val events = java.util.concurrent.CopyOnWriteArrayList<CameraFeed.Event>()
        val frames = java.util.concurrent.atomic.AtomicInteger()
        val gate = FrameGate(minIntervalMs = 0)
        val st = android.graphics.SurfaceTexture(0)

        // A stop can land at three points of camera2's answer; each is forced here by
        // holding the camera thread, so the order does not depend on thread timing:
        // before the open ran, between the open and onOpened, between onOpened and
        // onConfigured. None may leave a camera or a session open, or send an event;
        // only the last may have asked for a session (camera2 was already building it).
        fun camerasMade() = org.robolectric.util.ReflectionHelpers
            .getStaticField<Set<*>>(org.robolectric.shadows.ShadowCameraManager::class.java, "createdCameras")
            .filterIsInstance<android.hardware.camera2.CameraDevice>()
            .map { Shadow.extract<Sdk34CameraDevice>(it) }
        for (stopAfter in 0..2) {
            val before = camerasMade().toSet()
            val feed = CameraFeed(activity, gate, { _, _, _, _ -> frames.incrementAndGet() }) { events.add(it) }
            val held = java.util.concurrent.CountDownLatch(1)
            val camera = android.os.Handler(feed.looperForTest)
            camera.post { held.await() }
            feed.start(st)
            // Each post runs after what the previous step queued, so after `stopAfter` of camera2's steps.
            fun stopAfterSteps(n: Int): Runnable = Runnable { if (n == 0) feed.stop() else camera.post(stopAfterSteps(n - 1)) }
            if (stopAfter == 0) feed.stop() else camera.post(stopAfterSteps(stopAfter - 1))
            held.countDown()
            feed.looperForTest.thread.join(5000)
            assertFalse("the camera thread ended (stop after step $stopAfter)", feed.looperForTest.thread.isAlive)
            val made = camerasMade().filterNot { it in before }
            assertEquals("cameras opened (stop after step $stopAfter)", if (stopAfter == 0) 0 else 1, made.size)
            made.forEach { d ->
                assertTrue("a camera opened around the stop is closed (step $stopAfter)", d.closed)
                assertEquals("sessions asked for (step $stopAfter)", if (stopAfter < 2) 0 else 1, d.sessions)
                assertEquals("every session closed (step $stopAfter)", d.sessions, d.sessionsClosed)
            }
            assertTrue("no event after the stop", events.isEmpty())
            assertEquals(null, feed.deviceForTest)
        }

        // A frame that arrives while the feed is being stopped is closed, not decoded after the close.
        val late = CameraFeed(activity, gate, { _, _, _, _ -> frames.incrementAndGet() }) { events.add(it) }
        late.start(st)
        shadowOf(late.looperForTest).idle()
        assertTrue(events.single() is CameraFeed.Event.Running)
        assertFalse("no torch button without a flash", (events.single() as CameraFeed.Event.Running).torch)
        val (buf, w, h) = frameOf(HOA)
        val decoded = FakeYuvImage(w, h, buf, w)
        late.feedForTest(decoded)
        shadowOf(late.looperForTest).idle()
        assertEquals(1, frames.get())
        assertTrue("every frame is closed after its decode", decoded.closed)
        val afterStop = FakeYuvImage(w, h, buf, w)
        val lateCamera = device(late)!!
        late.stop()
        late.feedForTest(afterStop)
        late.looperForTest.thread.join(5000)
        assertEquals("a frame after the stop is not decoded", 1, frames.get())
        assertTrue(lateCamera.closed)

        // The camera going away (another app took it) ends the feed with an event, from the camera thread.
        val gone = CameraFeed(activity, gate, { _, _, _, _ -> }) { events.add(it) }
        events.clear()
        gone.start(st)
        shadowOf(gone.looperForTest).idle()
        val goneCamera = device(gone)!!
        shadowOf(app.getSystemService(CameraManager::class.java)).triggerDisconnect()
        shadowOf(gone.looperForTest).idle()
        assertEquals(CameraFeed.Event.Disconnected, events.last())
        assertTrue("closed on the camera thread", goneCamera.closed)
        assertEquals(null, gone.deviceForTest)
        gone.stop()
    }

    @Test fun aCameraTakenByAnotherAppCanBeOpenedAgain() {
        enrollThroughTheScreens()
        val feed = scanScreen.feedForTest!!
        // Another app takes the camera (split screen on Android 10+, or a camera app).
        shadowOf(app.getSystemService(CameraManager::class.java)).triggerDisconnect()
        shadowOf(feed.looperForTest).idle()
        idle()
        assertNull(scanScreen.feedForTest)
        assertTrue(text("scan-status"), text("scan-status").startsWith("Lỗi camera"))
        assertTrue("a way to open it again", visible("scan-retry"))
        tap("scan-retry")
        cameraSettles()
        assertNotNull("the camera runs again", scanScreen.feedForTest)
        assertFalse(visible("scan-retry"))
        // The same when the app comes back on top of the other (no tap needed).
        shadowOf(app.getSystemService(CameraManager::class.java)).triggerDisconnect()
        shadowOf(scanScreen.feedForTest!!.looperForTest).idle()
        idle()
        activity.onTopResumedActivityChanged(true)
        cameraSettles()
        assertNotNull(scanScreen.feedForTest)
    }

    @Test fun theFrameSizeFocusAndPreviewFitSuitTheCard() {
        assertEquals(1280 to 720, CameraChoice.frameSize(listOf(1920 to 1080, 1280 to 720, 640 to 480)))
        assertEquals("the 16:9 size nearest 720p", 1600 to 900, CameraChoice.frameSize(listOf(1920 to 1080, 1600 to 900, 1024 to 768)))
        assertEquals("never below 640x480 when more is offered", 1024 to 768, CameraChoice.frameSize(listOf(1024 to 768, 320 to 240)))
        assertNull(CameraChoice.frameSize(emptyList()))
        assertEquals(android.hardware.camera2.CameraMetadata.CONTROL_AF_MODE_CONTINUOUS_PICTURE, CameraChoice.focusMode(listOf(1, 4, 2)))
        assertEquals(android.hardware.camera2.CameraMetadata.CONTROL_AF_MODE_MACRO, CameraChoice.focusMode(listOf(1, 2)))
        assertNull("fixed focus: left alone", CameraChoice.focusMode(listOf(0)))
        // A portrait view 720x600 px showing 1280x720 frames from a sensor at 90 degrees:
        // the picture (720 wide, 1280 high once turned) fills the width and is cropped top and bottom.
        val (sx, sy) = CameraChoice.centerCrop(720, 600, 1280, 720, 90)
        assertEquals(1f, sx, 0.001f)
        assertEquals(1280f / 600f, sy, 0.001f)
        val (lx, ly) = CameraChoice.centerCrop(1280, 400, 1280, 720, 0)
        assertEquals(1f, lx, 0.001f)
        assertEquals(720f / 400f, ly, 0.001f)
    }

    @Test fun aPhoneWithoutACameraOffersTyping() {
        launch()
        type("code", hub.enrollmentText()); tap("enroll-go")
        type("pin", PIN); tap("pin-ok"); type("pin", PIN); tap("pin-ok")
        tap("vaccine=AZ"); tap("session-start")
        previewAppears()
        assertEquals("Không mở được camera. Hãy dùng Nhập tay.", text("scan-status"))
        assertNull(scanScreen.feedForTest)
        tap("scan-manual")
        assertEquals("visit", screen())
    }
}
