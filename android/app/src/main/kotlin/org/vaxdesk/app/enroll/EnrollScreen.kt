package org.vaxdesk.app.enroll

import android.os.Build
import android.os.Bundle
import android.text.InputType
import android.view.View
import org.vaxdesk.app.R
import org.vaxdesk.app.core.Messages
import org.vaxdesk.app.core.Outcome
import org.vaxdesk.app.nav.Host
import org.vaxdesk.app.nav.Screen
import org.vaxdesk.app.pin.PinScreen
import org.vaxdesk.app.scan.ScanScreen

/**
 * First start: the coordinator shows a `VXD1:` QR on the hub's page; the
 * volunteer scans it (or pastes its text), then sets a PIN. The first sync
 * brings the site's catalog and lots.
 *
 * On a congested network the hub may enroll the phone and its answer be
 * lost: the core keeps that code as pending and retries it; if it still did
 * not get through, this screen comes back with the code filled in, and the
 * same tap finishes the same enrollment (the hub answers a phone's own code
 * again). A new code from the coordinator works as well.
 */
class EnrollScreen(host: Host) : Screen(host) {
    override val name = "enroll"
    private lateinit var code: org.vaxdesk.app.ui.Ui.Field
    private lateinit var message: android.widget.TextView
    private var typed: String? = null
    private var busy = false

    override fun build(): View {
        val facts = app.core.facts
        code = ui.field("code", str(R.string.enroll_code_label), codeText(facts?.pendingEnrollment), InputType.TYPE_CLASS_TEXT or InputType.TYPE_TEXT_FLAG_MULTI_LINE)
        message = ui.note("enroll-message")
        val body = ui.column(
            ui.text(str(R.string.enroll_intro)),
            ui.button(str(R.string.enroll_scan), "enroll-scan") {
                typed = code.value
                host.go(ScanScreen(host, ScanScreen.Purpose.ENROLL))
            },
            code.view,
            message,
        )
        if (facts?.pendingEnrollment != null && facts.enrolled.not()) ui.showNote(message, str(R.string.enroll_resume), warning = true)
        return ui.page(str(R.string.enroll_title), body, ui.button(str(R.string.enroll_go), "enroll-go", primary = true) { enroll() })
    }

    override fun save(out: Bundle) {
        out.putString("code", if (::code.isInitialized) code.value else typed)
    }

    fun restore(b: Bundle) {
        typed = b.getString("code")
    }

    /** A code scanned on the camera screen, else what was typed, else a pending one. */
    private fun codeText(pending: String?): String {
        val scanned = app.state.scannedEnrollCode
        app.state.scannedEnrollCode = null
        // What was typed before a trip to the camera or a recreation is used once, then the field rules.
        val kept = typed
        typed = null
        return scanned?.text ?: kept ?: (if (::code.isInitialized) code.value else null) ?: pending ?: ""
    }

    private fun enroll() {
        if (busy) return
        val text = code.value
        val facts = app.core.facts
        if (facts != null && facts.enrolled) return setPin()
        if (text.isEmpty()) return ui.showNote(message, str(R.string.enroll_empty))
        busy = true
        ui.showNote(message, str(R.string.working), warning = true)
        // The sync lane: enrolling is network work, retried on a bad network.
        syncing({ it.enroll(text, Build.MODEL) }) { r ->
            busy = false
            when (r) {
                is Outcome.Failed -> ui.showNote(message, Messages.error(host.activity, r.error))
                is Outcome.Ok -> {
                    ui.showNote(message, str(R.string.enroll_done, r.value.siteName, r.value.deskName), ok = true)
                    setPin()
                }
            }
        }
    }

    private fun setPin() {
        if (app.core.facts?.pinSet == true) host.pinDone(PinScreen.Mode.SET) else host.go(PinScreen(host, PinScreen.Mode.SET))
    }
}
