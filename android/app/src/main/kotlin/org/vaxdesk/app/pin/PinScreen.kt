package org.vaxdesk.app.pin

import android.text.InputType
import android.view.View
import org.vaxdesk.app.R
import org.vaxdesk.app.core.Messages
import org.vaxdesk.app.core.Outcome
import org.vaxdesk.app.nav.Host
import org.vaxdesk.app.nav.Screen
import org.vaxdesk.core.PinCheck

/**
 * SET: choose a PIN (typed twice) after enrolling. UNLOCK: the lock on
 * start and after [LockPolicy.BACKGROUND_LIMIT_MS] away. Wrong PINs and
 * lockouts are counted by the core, in a file, so a restart does not reset them.
 */
class PinScreen(host: Host, val mode: Mode, private val onDone: () -> Unit) : Screen(host) {
    enum class Mode { SET, UNLOCK }

    override val name = if (mode == Mode.SET) "pin-set" else "pin"
    private var first: String? = null
    private lateinit var pin: org.vaxdesk.app.ui.Ui.Field
    private lateinit var message: android.widget.TextView
    private lateinit var prompt: android.widget.TextView

    override fun build(): View {
        pin = ui.field("pin", str(R.string.pin_label), "", InputType.TYPE_CLASS_NUMBER or InputType.TYPE_NUMBER_VARIATION_PASSWORD)
        message = ui.note("pin-message")
        prompt = ui.text(str(if (mode == Mode.SET) R.string.pin_set_prompt else R.string.pin_unlock_prompt), tag = "pin-prompt")
        val body = ui.column(prompt, pin.view, message)
        val ok = ui.button(str(R.string.pin_ok), "pin-ok", primary = true) { submit() }
        return ui.page(str(if (mode == Mode.SET) R.string.pin_set_title else R.string.pin_unlock_title), body, ok)
    }

    private fun submit() {
        val typed = pin.value
        pin.value = ""
        if (mode == Mode.SET) return set(typed)
        app.core.run({ app.core.pin.check(typed) }) { r ->
            when (r) {
                is Outcome.Failed -> ui.showNote(message, Messages.error(host.activity, r.error))
                is Outcome.Ok -> when (val c = r.value) {
                    is PinCheck.Unlocked -> { app.state.unlocked = true; onDone() }
                    is PinCheck.Wrong -> ui.showNote(message, str(R.string.pin_wrong, c.attemptsLeft.toInt()))
                    is PinCheck.LockedOut -> ui.showNote(message, str(R.string.pin_locked, c.seconds.toLong()))
                }
            }
        }
    }

    private fun set(typed: String) {
        val earlier = first
        if (earlier == null) {
            // The core's rule (4-8 digits, not one repeated) is checked when it is set; ask twice first.
            first = typed
            prompt.text = str(R.string.pin_set_again)
            ui.showNote(message, null)
            return
        }
        first = null
        if (earlier != typed) {
            prompt.text = str(R.string.pin_set_prompt)
            ui.showNote(message, str(R.string.pin_mismatch))
            return
        }
        app.core.run({ app.core.pin.set(typed) }) { r ->
            when (r) {
                is Outcome.Failed -> { prompt.text = str(R.string.pin_set_prompt); ui.showNote(message, Messages.error(host.activity, r.error)) }
                is Outcome.Ok -> { app.state.unlocked = true; onDone() }
            }
        }
    }
}
