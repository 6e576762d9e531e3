package org.vaxdesk.app

import android.hardware.camera2.CameraCaptureSession
import android.hardware.camera2.CaptureRequest
import android.hardware.camera2.impl.CameraCaptureSessionImpl
import android.hardware.camera2.impl.CameraDeviceImpl
import android.hardware.camera2.impl.CameraMetadataNative
import android.hardware.camera2.params.SessionConfiguration
import android.os.Handler
import android.view.Surface
import java.util.concurrent.Executor
import java.util.concurrent.atomic.AtomicBoolean
import org.robolectric.annotation.Implementation
import org.robolectric.annotation.Implements
import org.robolectric.annotation.RealObject
import org.robolectric.shadow.api.Shadow
import org.robolectric.util.ReflectionHelpers

/**
 * Robolectric 4.17's own camera-device shadow names a class of API 35
 * (`CameraDevice.CameraDeviceSetup`) in a constructor shadow, so on SDK 34
 * every `openCamera` fails with NoClassDefFoundError. This is the same
 * behaviour without that constructor: the camera opens, sessions configure on
 * the handler given, requests build, and `close` is remembered (so a test can
 * tell a camera left open from one closed).
 */
@Implements(value = CameraDeviceImpl::class, isInAndroidSdk = false)
class Sdk34CameraDevice {
    @RealObject lateinit var realObject: CameraDeviceImpl
    @Volatile var closed = false
    @Volatile var sessions = 0
    @Volatile var sessionsClosed = 0

    @Implementation
    protected fun createCaptureRequest(templateType: Int): CaptureRequest.Builder {
        checkIfCameraClosedOrInError()
        val cameraId = ReflectionHelpers.getField<String>(realObject, "mCameraId")
        return CaptureRequest.Builder(CameraMetadataNative(), false, -1, cameraId, null)
    }

    @Implementation
    protected fun createCaptureSession(outputs: List<Surface>, callback: CameraCaptureSession.StateCallback, handler: Handler) {
        checkIfCameraClosedOrInError()
        val s = newSession(callback)
        handler.post { callback.onConfigured(s) }
    }

    @Implementation
    protected fun createCaptureSession(config: SessionConfiguration) {
        checkIfCameraClosedOrInError()
        val s = newSession(config.stateCallback)
        config.executor.execute { config.stateCallback.onConfigured(s) }
    }

    @Implementation
    protected fun close() {
        if (!closed) {
            val onClosed = ReflectionHelpers.getField<Runnable>(realObject, "mCallOnClosed")
            ReflectionHelpers.getField<Executor>(realObject, "mDeviceExecutor").execute(onClosed)
        }
        ReflectionHelpers.getField<AtomicBoolean>(realObject, "mClosing").set(true)
        closed = true
    }

    @Implementation
    protected fun checkIfCameraClosedOrInError() {
        if (closed) throw IllegalStateException("CameraDevice was already closed")
    }

    private fun newSession(cb: CameraCaptureSession.StateCallback): CameraCaptureSession {
        sessions++
        val s = Shadow.newInstanceOf(CameraCaptureSessionImpl::class.java)
        // Robolectric's session close() calls onClosed on this callback: counted here, then passed on.
        val counting = object : CameraCaptureSession.StateCallback() {
            override fun onConfigured(session: CameraCaptureSession) = cb.onConfigured(session)
            override fun onConfigureFailed(session: CameraCaptureSession) = cb.onConfigureFailed(session)
            override fun onClosed(session: CameraCaptureSession) {
                sessionsClosed++
                cb.onClosed(session)
            }
        }
        ReflectionHelpers.setField(CameraCaptureSessionImpl::class.java, s, "mStateCallback", counting)
        ReflectionHelpers.setField(CameraCaptureSessionImpl::class.java, s, "mDeviceImpl", realObject)
        return s
    }
}
