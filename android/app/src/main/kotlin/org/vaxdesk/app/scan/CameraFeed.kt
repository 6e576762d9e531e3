package org.vaxdesk.app.scan

import android.annotation.SuppressLint
import android.content.Context
import android.graphics.ImageFormat
import android.graphics.SurfaceTexture
import android.hardware.camera2.CameraCaptureSession
import android.hardware.camera2.CameraCharacteristics
import android.hardware.camera2.CameraDevice
import android.hardware.camera2.CameraManager
import android.hardware.camera2.CaptureRequest
import android.media.ImageReader
import android.os.Handler
import android.os.HandlerThread
import android.os.SystemClock
import android.view.Surface
import java.nio.ByteBuffer

/**
 * camera2 → the decoder. Frames arrive as YUV_420_888; the Y plane is the
 * luma the core reads, in place (a direct buffer, with its row stride), on
 * the camera's own background thread. The image is closed only after the
 * decode has returned, because the buffer is the image's memory.
 */
class CameraFeed(
    private val context: Context,
    private val gate: FrameGate,
    private val onFrame: (luma: ByteBuffer, width: Int, height: Int, rowStride: Int) -> Unit,
    private val onError: (String) -> Unit,
) {
    private var thread: HandlerThread? = null
    private var device: CameraDevice? = null
    private var session: CameraCaptureSession? = null
    private var reader: ImageReader? = null
    private var request: CaptureRequest.Builder? = null
    var torch = false
        private set

    /** The back camera's id, or null on a phone without one (or in a test JVM). */
    fun backCamera(): String? {
        val manager = context.getSystemService(CameraManager::class.java) ?: return null
        return try {
            manager.cameraIdList.firstOrNull { id ->
                manager.getCameraCharacteristics(id).get(CameraCharacteristics.LENS_FACING) == CameraCharacteristics.LENS_FACING_BACK
            } ?: manager.cameraIdList.firstOrNull()
        } catch (e: Exception) {
            null
        }
    }

    /** Open the camera (the caller has the CAMERA permission). */
    @SuppressLint("MissingPermission")
    fun start(preview: SurfaceTexture?, width: Int = 1280, height: Int = 720): Boolean {
        val id = backCamera() ?: return false
        val t = HandlerThread("vaxdesk-camera").also { it.start() }
        thread = t
        val handler = Handler(t.looper)
        val r = ImageReader.newInstance(width, height, ImageFormat.YUV_420_888, 2)
        reader = r
        r.setOnImageAvailableListener({ rd ->
            val image = rd.acquireLatestImage() ?: return@setOnImageAvailableListener
            try {
                if (gate.tryEnter(SystemClock.elapsedRealtime())) {
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
        }, handler)
        val manager = context.getSystemService(CameraManager::class.java)
        manager.openCamera(id, object : CameraDevice.StateCallback() {
            override fun onOpened(camera: CameraDevice) {
                device = camera
                val targets = mutableListOf(r.surface)
                preview?.let { it.setDefaultBufferSize(width, height); targets.add(Surface(it)) }
                @Suppress("DEPRECATION") // the SessionConfiguration form needs API 28
                camera.createCaptureSession(targets, object : CameraCaptureSession.StateCallback() {
                    override fun onConfigured(s: CameraCaptureSession) {
                        session = s
                        val b = camera.createCaptureRequest(CameraDevice.TEMPLATE_PREVIEW)
                        targets.forEach { b.addTarget(it) }
                        b.set(CaptureRequest.CONTROL_AF_MODE, CaptureRequest.CONTROL_AF_MODE_CONTINUOUS_PICTURE)
                        request = b
                        repeat()
                    }

                    override fun onConfigureFailed(s: CameraCaptureSession) = onError("camera session")
                }, handler)
            }

            override fun onDisconnected(camera: CameraDevice) = stop()
            override fun onError(camera: CameraDevice, error: Int) { stop(); onError("camera error $error") }
        }, handler)
        return true
    }

    fun setTorch(on: Boolean) {
        torch = on
        repeat()
    }

    private fun repeat() {
        val b = request ?: return
        b.set(CaptureRequest.FLASH_MODE, if (torch) CaptureRequest.FLASH_MODE_TORCH else CaptureRequest.FLASH_MODE_OFF)
        try {
            session?.setRepeatingRequest(b.build(), null, null)
        } catch (e: Exception) {
            onError("camera: ${e.javaClass.simpleName}")
        }
    }

    fun stop() {
        try { session?.close() } catch (_: Exception) {}
        try { device?.close() } catch (_: Exception) {}
        reader?.close()
        thread?.quitSafely()
        session = null; device = null; reader = null; thread = null; request = null
    }
}
