package org.vaxdesk.app.enroll

import android.os.Build
import android.text.InputType
import android.view.View
import org.vaxdesk.app.R
import org.vaxdesk.app.core.Messages
import org.vaxdesk.app.core.Outcome
import org.vaxdesk.app.nav.Host
import org.vaxdesk.app.nav.Screen
import org.vaxdesk.app.pin.PinScreen
import org.vaxdesk.app.scan.ScanScreen
import org.vaxdesk.app.session.SessionScreen

/**
 * First start: the coordinator shows a `VXD1:` QR on the hub's page; the
 * volunteer scans it (or pastes its text), then sets a PIN. The first sync
 * brings the site's catalog and lots.
 */
class EnrollScreen(host: Host) : Screen(host) {
    override val name = "enroll"
    private lateinit var code: org.vaxdesk.app.ui.Ui.Field
    private lateinit var message: android.widget.TextView
    private var enrolled = false

    override fun build(): View {
        code = ui.field("code", str(R.string.enroll_code_label), codeText(), InputType.TYPE_CLASS_TEXT or InputType.TYPE_TEXT_FLAG_MULTI_LINE)
        message = ui.note("enroll-message")
        val body = ui.column(
            ui.text(str(R.string.enroll_intro)),
            ui.button(str(R.string.enroll_scan), "enroll-scan") {
                host.go(ScanScreen(host, ScanScreen.Purpose.ENROLL))
            },
            code.view,
            message,
        )
        return ui.page(str(R.string.enroll_title), body, ui.button(str(R.string.enroll_go), "enroll-go", primary = true) { enroll() })
    }

    /** A code scanned on the camera screen comes back through the state. */
    private fun codeText(): String {
        val scanned = app.state.scannedEnrollCode
        app.state.scannedEnrollCode = null
        return scanned?.text ?: (if (::code.isInitialized) code.value else "")
    }

    private fun enroll() {
        val text = code.value
        if (enrolled || app.core.desk.status().hub != null) return pinThenSync()
        if (text.isEmpty()) return ui.showNote(message, str(R.string.enroll_empty))
        ui.showNote(message, str(R.string.working), warning = true)
        app.core.run({ it.enroll(text, Build.MODEL) }) { r ->
            when (r) {
                is Outcome.Failed -> ui.showNote(message, Messages.error(host.activity, r.error))
                is Outcome.Ok -> {
                    enrolled = true
                    ui.showNote(message, str(R.string.enroll_done, r.value.siteName, r.value.deskName), warning = true)
                    pinThenSync()
                }
            }
        }
    }

    private fun pinThenSync() {
        host.go(PinScreen(host, PinScreen.Mode.SET) {
            // The catalog comes with the first sync; without a network the
            // session screen says so and offers to try again.
            app.core.run({ it.syncNow() }) { host.restart(SessionScreen(host)) }
        })
    }
}
