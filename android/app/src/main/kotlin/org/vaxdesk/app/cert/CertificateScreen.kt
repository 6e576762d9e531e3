package org.vaxdesk.app.cert

import android.graphics.Bitmap
import android.graphics.Color
import android.view.View
import android.widget.ImageView
import android.widget.LinearLayout
import org.vaxdesk.app.R
import org.vaxdesk.app.core.Messages
import org.vaxdesk.app.core.Outcome
import org.vaxdesk.app.nav.Host
import org.vaxdesk.app.nav.Screen
import org.vaxdesk.core.CertificateInfo
import org.vaxdesk.core.VaxdeskException
import org.vaxdesk.core.qrModules

/**
 * The citizen's certificate on screen, for their own phone to photograph or
 * scan: the hub signs it once their doses have reached it (so this syncs
 * first), and the desk checks the signature against the trust list its
 * catalog brought before showing it.
 */
class CertificateScreen(host: Host, private val personId: String) : Screen(host) {
    override val name = "certificate"
    private var cert: CertificateInfo? = null
    /** Drawn on the core's thread with the certificate (the modules come from the core). */
    private var picture: Bitmap? = null
    private var problem: String? = null

    override fun save(out: android.os.Bundle) {
        out.putString("person", personId)
    }

    override fun build(): View {
        val body = ui.column()
        val c = cert
        when {
            c != null -> {
                val qr = ImageView(host.activity).apply {
                    setImageBitmap(picture)
                    tag = "cert-qr"
                    adjustViewBounds = true
                    contentDescription = str(R.string.cert_qr_description)
                }
                body.addView(qr, LinearLayout.LayoutParams(LinearLayout.LayoutParams.MATCH_PARENT, ui.dp(320)))
                ui.add(body, ui.text(c.name, 22f, bold = true, tag = "cert-name"))
                ui.add(body, ui.text(str(R.string.cert_details, c.birthDate, c.doseNumber.toInt(), c.seriesDoses.toInt(), c.date), tag = "cert-details"))
                val status = ui.note("cert-status")
                // The core's verdict decides; the screen says why in the volunteer's language.
                when {
                    c.valid -> ui.showNote(status, str(R.string.cert_verified), ok = true)
                    c.signature != "verified" -> ui.showNote(status, str(if (c.signature == "unknown_key") R.string.cert_unknown_key else R.string.cert_bad_signature))
                    else -> ui.showNote(status, str(R.string.cert_expired))
                }
                ui.add(body, status)
            }
            problem != null -> ui.add(body, ui.text(problem!!, tag = "cert-problem"))
            else -> ui.add(body, ui.text(str(R.string.working), tag = "cert-loading", muted = true))
        }
        return ui.page(str(R.string.cert_title), body)
    }

    override fun onShown() {
        if (cert != null || problem != null) return
        syncing({ d ->
            // Send any doses still on the phone first: the hub signs only what it has.
            try { d.syncNow() } catch (e: VaxdeskException) { if (e !is VaxdeskException.Sync || !e.transient) throw e }
            d.certificate(personId).let { c -> c to qrBitmap(c.text) }
        }) { r ->
            when (r) {
                is Outcome.Ok -> { cert = r.value.first; picture = r.value.second }
                is Outcome.Failed -> problem = Messages.error(host.activity, r.error)
            }
            host.refresh()
        }
    }

    companion object {
        /** The code drawn black on white, 8 px a module, with the 4-module quiet zone. */
        fun qrBitmap(text: String, scale: Int = 8): Bitmap {
            val m = qrModules(text)
            val n = m.size.toInt()
            val side = (n + 8) * scale
            val px = IntArray(side * side) { Color.WHITE }
            for (y in 0 until n) for (x in 0 until n) {
                if (m.dark[y * n + x].toInt() == 0) continue
                for (dy in 0 until scale) {
                    val row = ((y + 4) * scale + dy) * side + (x + 4) * scale
                    for (dx in 0 until scale) px[row + dx] = Color.BLACK
                }
            }
            return Bitmap.createBitmap(px, side, side, Bitmap.Config.ARGB_8888)
        }
    }
}
