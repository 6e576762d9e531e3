package org.vaxdesk.app.scan

import android.Manifest
import android.content.Intent
import android.content.pm.PackageManager
import android.graphics.Matrix
import android.graphics.SurfaceTexture
import android.net.Uri
import android.provider.Settings
import android.view.TextureView
import android.view.View
import android.widget.Button
import android.widget.LinearLayout
import android.widget.TextView
import java.nio.ByteBuffer
import org.vaxdesk.app.R
import org.vaxdesk.app.cert.CertificateScreen
import org.vaxdesk.app.nav.Host
import org.vaxdesk.app.nav.Screen
import org.vaxdesk.app.queue.QueueScreen
import org.vaxdesk.app.settings.SettingsScreen
import org.vaxdesk.app.visit.VisitScreen
import org.vaxdesk.core.PersonDraftInfo
import org.vaxdesk.core.ScanChoiceInfo
import org.vaxdesk.core.ScanPurpose
import org.vaxdesk.core.ScanResult

/**
 * The camera, waiting for a code. PERSON: a chip-ID (CCCD) or PC-Covid code
 * opens the person + dose form at once (no tap). ENROLL: a `VXD1:` code goes
 * back to the enroll screen. Typing is always there for a code that will
 * not scan.
 *
 * The camera runs only while all of these hold: the CAMERA permission is
 * granted, this screen is on top, the activity is in front (resumed), and
 * the preview's surface exists. It is stopped as soon as one of them
 * stops holding (another screen, the screen turned off, a trip to another
 * app) and started again when they all hold once more, so a volunteer
 * coming back finds a live camera. The permission is asked once each time
 * the screen is shown; refused, the screen says so and offers to ask again,
 * or, when the phone will not ask again, the way to the app's settings.
 */
class ScanScreen(host: Host, val purpose: Purpose = Purpose.PERSON) : Screen(host) {
    enum class Purpose { PERSON, ENROLL }
    private enum class Permission { UNKNOWN, GRANTED, DENIED, DENIED_FOR_GOOD }

    override val name = if (purpose == Purpose.PERSON) "scan" else "scan-enroll"
    private val gate = FrameGate()
    private var feed: CameraFeed? = null
    private var preview: TextureView? = null
    private var shown = false
    private var delivered = false
    /** The permission was asked while this screen shows (ask once, not in a loop). */
    private var asked = false
    private var permission = Permission.UNKNOWN
    private var torchAvailable = false
    private var torchOn = false
    private var running: CameraFeed.Event.Running? = null
    @Volatile private var frames = 0L
    private lateinit var status: TextView
    private lateinit var torch: Button
    private lateinit var askAgain: Button
    private lateinit var openSettings: Button
    private lateinit var retry: Button
    /** The camera failed or was taken (not the permission): it can be tried again. */
    private var cameraFailed = false

    /** Tests: the running camera feed, if any. */
    val feedForTest: CameraFeed? get() = feed

    override fun build(): View {
        status = ui.text(str(R.string.scan_hint), tag = "scan-status", muted = true).also { ui.liveRegion(it) }
        val texture = TextureView(host.activity).apply {
            contentDescription = str(R.string.scan_preview_description)
            tag = "scan-preview"
            surfaceTextureListener = object : TextureView.SurfaceTextureListener {
                override fun onSurfaceTextureAvailable(st: SurfaceTexture, w: Int, h: Int) = maybeStart()
                override fun onSurfaceTextureSizeChanged(st: SurfaceTexture, w: Int, h: Int) = fitPreview()
                override fun onSurfaceTextureDestroyed(st: SurfaceTexture): Boolean {
                    // The camera thread may still be drawing into it: it is
                    // released there, after the camera is closed.
                    val f = feed
                    stopCamera(release = st)
                    if (f == null) st.release()
                    return false
                }
                override fun onSurfaceTextureUpdated(st: SurfaceTexture) {}
            }
            addOnLayoutChangeListener { _, _, _, _, _, _, _, _, _ -> fitPreview() }
        }
        preview = texture
        val body = ui.column()
        if (purpose == Purpose.PERSON) {
            val session = app.core.facts?.session
            ui.add(body, ui.text(session?.let { str(R.string.scan_session, it.vaccine, it.lots.joinToString(", ")) } ?: "", tag = "scan-session", muted = true))
            app.state.lastSaved?.let { saved ->
                val card = ui.card(ui.text(saved, tag = "scan-saved", bold = true))
                app.state.lastSavedPerson?.let { id ->
                    ui.add(card, ui.button(str(R.string.cert_show), "scan-cert") { host.go(CertificateScreen(host, id)) })
                }
                ui.add(body, card)
            }
        }
        body.addView(texture, LinearLayout.LayoutParams(LinearLayout.LayoutParams.MATCH_PARENT, ui.dp(300)))
        ui.add(body, status)
        torch = ui.button(str(R.string.scan_torch), "scan-torch") { toggleTorch() }
        askAgain = ui.button(str(R.string.scan_ask_again), "scan-ask-again") { askPermission() }
        openSettings = ui.button(str(R.string.scan_open_settings), "scan-open-settings") { openAppSettings() }
        retry = ui.button(str(R.string.scan_retry), "scan-retry") { retryCamera() }
        listOf(torch, askAgain, openSettings, retry).forEach { ui.add(body, it) }
        showState()
        if (purpose == Purpose.ENROLL) return ui.page(str(R.string.scan_enroll_title), body)
        val manual = ui.button(str(R.string.scan_manual), "scan-manual", primary = true) {
            host.go(VisitScreen(host, PersonDraftInfo(null, null, false, "", "", null, null, null, null, null, null, null, null, "manual"), null))
        }
        val nav = ui.row(
            ui.button(str(R.string.queue_title), "go-queue") { host.go(QueueScreen(host)) },
            ui.button(str(R.string.settings_title), "go-settings") { host.go(SettingsScreen(host)) },
        )
        return ui.page(str(R.string.scan_title), body, manual, nav)
    }

    override fun onShown() {
        shown = true
        delivered = false
        asked = false
    }

    override fun onResume() {
        cameraFailed = false // back in front: the camera is tried again
        if (hasPermission()) {
            permission = Permission.GRANTED
            showState()
            maybeStart()
        } else if (!asked) {
            askPermission()
        }
    }

    override fun onPause() = stopCamera()

    override fun onHidden() {
        shown = false
        stopCamera()
    }

    private fun hasPermission() = host.activity.checkSelfPermission(Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED

    private fun askPermission() {
        asked = true
        host.activity.requestPermissions(arrayOf(Manifest.permission.CAMERA), PERMISSION_REQUEST)
    }

    /** The volunteer's answer; [forGood]: the phone will not ask again. */
    fun onPermission(granted: Boolean, forGood: Boolean) {
        permission = when {
            granted -> Permission.GRANTED
            forGood -> Permission.DENIED_FOR_GOOD
            else -> Permission.DENIED
        }
        showState()
        if (granted) maybeStart()
    }

    private fun openAppSettings() {
        val a = host.activity
        a.startActivity(Intent(Settings.ACTION_APPLICATION_DETAILS_SETTINGS, Uri.fromParts("package", a.packageName, null)))
    }

    private fun showState() {
        if (!::status.isInitialized) return
        askAgain.visibility = if (permission == Permission.DENIED) View.VISIBLE else View.GONE
        openSettings.visibility = if (permission == Permission.DENIED_FOR_GOOD) View.VISIBLE else View.GONE
        torch.visibility = if (torchAvailable && feed != null) View.VISIBLE else View.GONE
        retry.visibility = if (cameraFailed && feed == null) View.VISIBLE else View.GONE
        when (permission) {
            Permission.DENIED, Permission.DENIED_FOR_GOOD -> status.text = str(R.string.scan_no_permission)
            else -> {}
        }
    }

    /** Try the camera again after it failed or another app had it (a tap, or the app back on top). */
    fun retryCamera() {
        if (!cameraFailed) return
        cameraFailed = false
        maybeStart()
        showState()
    }

    private fun maybeStart() {
        if (feed != null || !shown || delivered || cameraFailed || !host.inFront || !hasPermission()) return
        val st = preview?.takeIf { it.isAvailable }?.surfaceTexture ?: return // starts when the surface exists
        status.text = str(R.string.scan_hint)
        // Events of a feed already stopped (a late error) act on nothing.
        var started: CameraFeed? = null
        // The application's context: a feed outliving its screen holds no activity.
        val f = CameraFeed(host.activity.applicationContext, gate, ::onFrame) { e -> app.core.onMain { if (feed === started) onCamera(e) } }
        started = f
        feed = f
        f.start(st)
    }

    private fun onCamera(e: CameraFeed.Event) {
        if (!host.isShowing(this) || feed == null) return
        when (e) {
            is CameraFeed.Event.Running -> {
                running = e
                torchAvailable = e.torch
                torchOn = false
                fitPreview()
            }
            is CameraFeed.Event.Failed -> {
                stopCamera()
                cameraFailed = e.reason != "permission" && e.reason != "no camera"
                status.text = when (e.reason) {
                    "permission" -> str(R.string.scan_no_permission)
                    "no camera" -> str(R.string.scan_no_camera)
                    else -> str(R.string.scan_camera_error, e.reason)
                }
            }
            CameraFeed.Event.Disconnected -> {
                stopCamera()
                cameraFailed = true
                status.text = str(R.string.scan_camera_error, "disconnected")
            }
        }
        showState()
    }

    private fun toggleTorch() {
        val f = feed ?: return
        torchOn = !torchOn
        f.setTorch(torchOn)
    }

    /** Show the frames undistorted: filled and cropped, not stretched. */
    private fun fitPreview() {
        val v = preview ?: return
        val r = running ?: return
        val (sx, sy) = CameraChoice.centerCrop(v.width, v.height, r.size.width, r.size.height, r.sensorDegrees)
        v.setTransform(Matrix().apply { setScale(sx, sy, v.width / 2f, v.height / 2f) })
    }

    private fun stopCamera(release: SurfaceTexture? = null) {
        feed?.stop(release)
        feed = null
        running = null
        if (::torch.isInitialized) torch.visibility = View.GONE
    }

    /**
     * A frame's Y plane (called on the camera thread). The decode runs here,
     * off the main thread; what it found is handled there.
     */
    fun onFrame(luma: ByteBuffer, width: Int, height: Int, rowStride: Int) {
        // Most frames get the core's quick look (about a millisecond); every
        // fourth gets every step, for a code at an awkward angle or in glare.
        val thorough = frames++ % 4 == 0L
        val found = try {
            if (thorough) app.core.scanner.decode(luma, width.toUInt(), height.toUInt(), rowStride.toUInt())
            else app.core.scanner.decodeQuick(luma, width.toUInt(), height.toUInt(), rowStride.toUInt())
        } catch (e: Exception) {
            emptyList() // a frame the core cannot read is no code; the next frame comes
        }
        if (found.isEmpty()) return
        // The core chooses, here on the camera's thread: which code this screen takes, or why none.
        val choice = try {
            app.core.scanner.choose(if (purpose == Purpose.ENROLL) ScanPurpose.ENROLL else ScanPurpose.PERSON, found)
        } catch (e: Exception) {
            return // as an unreadable frame: the next one comes
        }
        app.core.onMain { handle(found, choice) }
    }

    private fun handle(found: List<ScanResult>, choice: ScanChoiceInfo) {
        if (delivered || !host.isShowing(this)) return
        choice.wrongKind?.let { kind ->
            say(str(R.string.scan_wrong_kind, kindLabel(kind)))
            return
        }
        val taken = choice.taken?.toInt()
        if (taken == null) {
            say(str(R.string.scan_unreadable, choice.unreadable.joinToString { it.field + ": " + it.message }))
            return
        }
        val hit = found[taken]
        val draft = hit.draft
        if (purpose == Purpose.PERSON && draft == null) return // the core takes a person code only with its draft
        delivered = true
        stopCamera()
        if (purpose == Purpose.ENROLL || draft == null) {
            app.state.scannedEnrollCode = hit
            host.back()
            return
        }
        host.go(VisitScreen(host, draft, hit))
    }

    /** The status line, rewritten only when it changes: a live region re-announces every write. */
    private fun say(text: String) {
        if (status.text.toString() != text) status.text = text
    }

    private fun kindLabel(kind: String) = when (kind) {
        "cccd" -> str(R.string.kind_cccd)
        "health" -> str(R.string.kind_health)
        "hc1" -> str(R.string.kind_hc1)
        "enroll" -> str(R.string.kind_enroll)
        else -> str(R.string.kind_unknown)
    }

    private companion object {
        const val PERMISSION_REQUEST = 1
    }
}
