package org.vaxdesk.app.scan

import android.Manifest
import android.content.pm.PackageManager
import android.graphics.SurfaceTexture
import android.view.TextureView
import android.view.View
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
import org.vaxdesk.core.ScanResult

/**
 * The camera, waiting for a code. PERSON: a chip-ID (CCCD) or PC-Covid code
 * opens the person + dose form at once (no tap). ENROLL: a `VXD1:` code goes
 * back to the enroll screen. Typing is always there for a code that will
 * not scan.
 */
class ScanScreen(host: Host, val purpose: Purpose = Purpose.PERSON) : Screen(host) {
    enum class Purpose { PERSON, ENROLL }

    override val name = if (purpose == Purpose.PERSON) "scan" else "scan-enroll"
    private val gate = FrameGate()
    private var feed: CameraFeed? = null
    private var texture: SurfaceTexture? = null
    private var delivered = false
    @Volatile private var frames = 0L
    private lateinit var status: TextView

    override fun build(): View {
        status = ui.text(str(R.string.scan_hint), tag = "scan-status", muted = true)
        val preview = TextureView(host.activity).apply {
            surfaceTextureListener = object : TextureView.SurfaceTextureListener {
                override fun onSurfaceTextureAvailable(st: SurfaceTexture, w: Int, h: Int) { texture = st; startCamera() }
                override fun onSurfaceTextureSizeChanged(st: SurfaceTexture, w: Int, h: Int) {}
                override fun onSurfaceTextureDestroyed(st: SurfaceTexture): Boolean { stopCamera(); texture = null; return true }
                override fun onSurfaceTextureUpdated(st: SurfaceTexture) {}
            }
        }
        val body = ui.column()
        if (purpose == Purpose.PERSON) {
            val session = app.core.desk.session()
            ui.add(body, ui.text(session?.let { str(R.string.scan_session, it.vaccine, it.lots.joinToString(", ")) } ?: "", tag = "scan-session", muted = true))
            app.state.lastSaved?.let { saved ->
                val card = ui.card(ui.text(saved, tag = "scan-saved", bold = true))
                app.state.lastSavedPerson?.let { id ->
                    ui.add(card, ui.button(str(R.string.cert_show), "scan-cert") { host.go(CertificateScreen(host, id)) })
                }
                ui.add(body, card)
            }
        }
        body.addView(preview, LinearLayout.LayoutParams(LinearLayout.LayoutParams.MATCH_PARENT, ui.dp(300)))
        ui.add(body, status)
        val torch = ui.button(str(R.string.scan_torch), "scan-torch") { feed?.let { it.setTorch(!it.torch) } }
        ui.add(body, torch)
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
        delivered = false
        val a = host.activity
        if (a.checkSelfPermission(Manifest.permission.CAMERA) != PackageManager.PERMISSION_GRANTED) {
            a.requestPermissions(arrayOf(Manifest.permission.CAMERA), 1)
        } else startCamera()
    }

    fun onPermission(granted: Boolean) {
        if (granted) startCamera() else status.text = str(R.string.scan_no_permission)
    }

    private fun startCamera() {
        if (feed != null) return
        val f = CameraFeed(host.activity, gate, ::onFrame) { e -> app.core.onMain { status.text = str(R.string.scan_camera_error, e) } }
        if (f.backCamera() == null) {
            status.text = str(R.string.scan_no_camera)
            return
        }
        val st = texture ?: return // starts when the preview surface exists
        if (f.start(st)) feed = f
    }

    private fun stopCamera() {
        feed?.stop()
        feed = null
    }

    override fun onHidden() = stopCamera()

    /**
     * A frame's Y plane (called on the camera thread, or by tests). The
     * decode runs here, off the main thread; what it found is handled there.
     */
    fun onFrame(luma: ByteBuffer, width: Int, height: Int, rowStride: Int) {
        // Most frames get the core's quick look (about a millisecond); every
        // fourth gets every step, for a code at an awkward angle or in glare.
        val thorough = frames++ % 4 == 0L
        val found = try {
            if (thorough) app.core.scanner.decode(luma, width.toUInt(), height.toUInt(), rowStride.toUInt())
            else app.core.scanner.decodeQuick(luma, width.toUInt(), height.toUInt(), rowStride.toUInt())
        } catch (e: org.vaxdesk.core.VaxdeskException) {
            emptyList()
        }
        if (found.isNotEmpty()) app.core.onMain { handle(found) }
    }

    private fun handle(found: List<ScanResult>) {
        if (delivered) return
        val wanted = if (purpose == Purpose.ENROLL) setOf("enroll") else setOf("cccd", "health")
        val hit = found.firstOrNull { it.kind in wanted }
        if (hit == null) {
            status.text = str(R.string.scan_wrong_kind, kindLabel(found.first().kind))
            return
        }
        delivered = true
        stopCamera()
        if (purpose == Purpose.ENROLL) {
            app.state.scannedEnrollCode = hit
            host.back()
            return
        }
        val draft = hit.draft
        if (draft == null || hit.errors.isNotEmpty() && draft.fullName.isEmpty()) {
            delivered = false
            status.text = str(R.string.scan_unreadable, hit.errors.joinToString { it.field + ": " + it.message })
            return
        }
        host.go(VisitScreen(host, draft, hit))
    }

    private fun kindLabel(kind: String) = when (kind) {
        "cccd" -> str(R.string.kind_cccd)
        "health" -> str(R.string.kind_health)
        "hc1" -> str(R.string.kind_hc1)
        "enroll" -> str(R.string.kind_enroll)
        else -> str(R.string.kind_unknown)
    }
}
