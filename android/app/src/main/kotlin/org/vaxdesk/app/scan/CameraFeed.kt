package org.vaxdesk.app.scan

import android.Manifest
import android.content.Context
import android.content.pm.PackageManager
import android.graphics.ImageFormat
import android.graphics.SurfaceTexture
import android.hardware.camera2.CameraAccessException
import android.hardware.camera2.CameraCaptureSession
import android.hardware.camera2.CameraCharacteristics
import android.hardware.camera2.CameraDevice
import android.hardware.camera2.CameraManager
import android.hardware.camera2.CaptureRequest
import android.media.Image
import android.media.ImageReader
import android.os.Handler
import android.os.HandlerThread
import android.os.SystemClock
import android.util.Size
import android.view.Surface
import java.nio.ByteBuffer

/**
 * camera2 → the decoder. Frames arrive as YUV_420_888; the Y plane is the
 * luma the core reads, in place (a direct buffer, with its row stride).
 *
 * Everything camera2 hands back, and every change of this feed's state,
 * happens on the feed's own camera thread: opening, configuring, each
 * frame's decode, the torch, errors and closing. So a close asked from the
 * main thread waits until the frame being decoded is done with (the buffer
 * is the image's memory), a camera that opens after it was closed is shut
 * at once instead of leaking, and a session configured after the close is
 * closed instead of used. One feed is started once and stopped once.
 *
 * [onEvent] is called on the camera thread; the caller moves it to the main
 * thread.
 */
class CameraFeed(
    private val context: Context,
    private val gate: FrameGate,
    private val onFrame: (luma: ByteBuffer, width: Int, height: Int, rowStride: Int) -> Unit,
    private val onEvent: (Event) -> Unit,
) {
    sealed class Event {
        /** The camera runs; [torch]: it has a flash to light the card with. */
        data class Running(val torch: Boolean, val size: Size, val sensorDegrees: Int) : Event()
        /** The camera could not be used (another app has it, a policy, a fault). */
        data class Failed(val reason: String) : Event()
        /** The camera went away (another app took it, or it was unplugged). */
        object Disconnected : Event()
    }

    private val thread = HandlerThread("vaxdesk-camera").apply { start() }
    private val looper = thread.looper
    private val handler = Handler(looper)

    private val stopping = java.util.concurrent.atomic.AtomicBoolean(false)

    // Touched on the camera thread only.
    private var closed = false
    private var device: CameraDevice? = null
    private var session: CameraCaptureSession? = null
    private var reader: ImageReader? = null
    private var previewSurface: Surface? = null
    private var request: CaptureRequest.Builder? = null
    private var torch = false

    /** Open the back camera and stream frames; a preview on [preview] if given. */
    fun start(preview: SurfaceTexture?) {
        handler.post { open(preview) }
    }

    /** Light the torch (where there is one) or put it out. */
    fun setTorch(on: Boolean) {
        handler.post {
            torch = on
            repeat()
        }
    }

    /**
     * Close the camera and end the thread. Safe to call from any thread and
     * more than once; returns at once, the close happens on the camera
     * thread after any frame being decoded.
     */
    fun stop(release: SurfaceTexture? = null) {
        if (!stopping.compareAndSet(false, true)) {
            release?.let { handler.post { it.release() } || run { it.release(); true } }
            return
        }
        handler.post {
            close()
            // The preview's texture, released only once no session can draw into it.
            release?.release()
            thread.quitSafely()
        }
    }

    /**
     * A stop asked for but not yet run: [stop] sets [stopping] at once on the
     * caller's thread and queues the close behind whatever camera2 already
     * queued (an open or a configure callback). Those callbacks check this so
     * that a volunteer leaving the scan screen while the camera opens never
     * gets a session built on a feed that is going away.
     */
    private val ending: Boolean get() = closed || stopping.get()

    private fun open(preview: SurfaceTexture?) {
        if (ending) return
        // Checked here as well as by the screen: a permission revoked from the
        // settings while the app was away must not become a crash.
        if (context.checkSelfPermission(Manifest.permission.CAMERA) != PackageManager.PERMISSION_GRANTED) {
            return fail("permission")
        }
        val manager = context.getSystemService(CameraManager::class.java) ?: return fail("no camera service")
        val choice = try {
            chooseCamera(manager)
        } catch (e: Exception) {
            return fail(e.javaClass.simpleName)
        } ?: return fail("no camera")
        val r = ImageReader.newInstance(choice.size.width, choice.size.height, ImageFormat.YUV_420_888, 2)
        reader = r
        r.setOnImageAvailableListener({ rd -> deliver(rd) }, handler)
        try {
            manager.openCamera(choice.id, object : CameraDevice.StateCallback() {
                override fun onOpened(camera: CameraDevice) {
                    if (ending) {
                        camera.close() // stopped while it was opening
                        return
                    }
                    device = camera
                    configure(camera, r, preview, choice)
                }

                override fun onDisconnected(camera: CameraDevice) {
                    camera.close()
                    if (closed) return
                    close()
                    onEvent(Event.Disconnected)
                }

                override fun onError(camera: CameraDevice, error: Int) {
                    camera.close()
                    if (closed) return
                    close()
                    onEvent(Event.Failed("camera error $error"))
                }
            }, handler)
        } catch (e: SecurityException) {
            fail("permission")
        } catch (e: CameraAccessException) {
            fail("camera access ${e.reason}")
        } catch (e: IllegalArgumentException) {
            fail("no camera")
        }
    }

    private fun configure(camera: CameraDevice, r: ImageReader, preview: SurfaceTexture?, choice: Choice) {
        val targets = mutableListOf(r.surface)
        try {
            preview?.let {
                it.setDefaultBufferSize(choice.size.width, choice.size.height)
                previewSurface = Surface(it).also { s -> targets.add(s) }
            }
        } catch (e: RuntimeException) {
            return fail("preview: ${e.javaClass.simpleName}") // the texture went away meanwhile
        }
        val callback = object : CameraCaptureSession.StateCallback() {
            override fun onConfigured(s: CameraCaptureSession) {
                if (ending) {
                    s.close() // stopped while it was being configured
                    return
                }
                session = s
                try {
                    val b = camera.createCaptureRequest(CameraDevice.TEMPLATE_PREVIEW)
                    targets.forEach { b.addTarget(it) }
                    choice.focusMode?.let { b.set(CaptureRequest.CONTROL_AF_MODE, it) }
                    request = b
                } catch (e: Exception) {
                    return fail(e.javaClass.simpleName)
                }
                repeat()
                if (!closed) onEvent(Event.Running(choice.torch, choice.size, choice.sensorDegrees))
            }

            override fun onConfigureFailed(s: CameraCaptureSession) {
                if (!ending) fail("camera session")
            }
        }
        if (ending) return // the close queued behind us releases the device and the surfaces
        try {
            @Suppress("DEPRECATION") // the SessionConfiguration form needs API 28
            camera.createCaptureSession(targets, callback, handler)
        } catch (e: Exception) {
            fail(e.javaClass.simpleName)
        }
    }

    private fun deliver(rd: ImageReader) {
        val image = try {
            rd.acquireLatestImage()
        } catch (e: IllegalStateException) {
            null // too many images held, or the reader closing
        } ?: return
        onImage(image)
    }

    /** One frame, on the camera thread: decoded if the gate lets it through, closed either way. */
    private fun onImage(image: Image) {
        try {
            if (!closed && gate.tryEnter(SystemClock.elapsedRealtime())) {
                try {
                    val y = image.planes[0]
                    onFrame(y.buffer.slice(), image.width, image.height, y.rowStride)
                } finally {
                    gate.leave()
                }
            }
        } finally {
            image.close()
        }
    }

    /**
     * Tests: hand [image] to the frame path as the reader would (on the
     * camera thread). Robolectric's ImageReader cannot produce YUV frames.
     */
    fun feedForTest(image: Image) {
        handler.post { onImage(image) }
    }

    /** Tests: the camera thread's looper, to wait for what was posted to it. */
    val looperForTest: android.os.Looper get() = looper

    /** Tests: the open camera, if any (read on the camera thread). */
    val deviceForTest: CameraDevice? get() = device

    private fun repeat() {
        val b = request ?: return
        val s = session ?: return
        b.set(CaptureRequest.FLASH_MODE, if (torch) CaptureRequest.FLASH_MODE_TORCH else CaptureRequest.FLASH_MODE_OFF)
        try {
            s.setRepeatingRequest(b.build(), null, handler)
        } catch (e: Exception) {
            fail(e.javaClass.simpleName) // the session closed under us, or the camera went away
        }
    }

    private fun fail(reason: String) {
        if (closed) return
        close()
        onEvent(Event.Failed(reason))
    }

    private fun close() {
        closed = true
        try { session?.close() } catch (_: Exception) {}
        try { device?.close() } catch (_: Exception) {}
        try { reader?.close() } catch (_: Exception) {}
        previewSurface?.release()
        session = null; device = null; reader = null; previewSurface = null; request = null
    }

    /** Which camera, at which size, with which focus mode and whether it has a torch. */
    private data class Choice(val id: String, val size: Size, val focusMode: Int?, val torch: Boolean, val sensorDegrees: Int)

    private fun chooseCamera(manager: CameraManager): Choice? {
        val ids = manager.cameraIdList
        val id = ids.firstOrNull { manager.getCameraCharacteristics(it).get(CameraCharacteristics.LENS_FACING) == CameraCharacteristics.LENS_FACING_BACK }
            ?: ids.firstOrNull() ?: return null
        val c = manager.getCameraCharacteristics(id)
        val map = c.get(CameraCharacteristics.SCALER_STREAM_CONFIGURATION_MAP)
        val yuv = map?.getOutputSizes(ImageFormat.YUV_420_888)?.toList().orEmpty()
        val previewSizes = map?.getOutputSizes(SurfaceTexture::class.java)?.toList()
        // The size must suit both the frames and the preview.
        val both = if (previewSizes == null) yuv else yuv.filter { it in previewSizes }
        val size = CameraChoice.frameSize(both.map { it.width to it.height })?.let { (w, h) -> Size(w, h) } ?: Size(1280, 720)
        val modes = c.get(CameraCharacteristics.CONTROL_AF_AVAILABLE_MODES)?.toList().orEmpty()
        return Choice(
            id = id,
            size = size,
            focusMode = CameraChoice.focusMode(modes),
            torch = c.get(CameraCharacteristics.FLASH_INFO_AVAILABLE) == true,
            sensorDegrees = c.get(CameraCharacteristics.SENSOR_ORIENTATION) ?: 90,
        )
    }
}
