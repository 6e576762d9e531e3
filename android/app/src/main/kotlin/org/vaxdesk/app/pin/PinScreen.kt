package org.vaxdesk.app.pin

import android.text.Editable
import android.text.InputType
import android.view.View
import java.nio.CharBuffer
import org.vaxdesk.app.R
import org.vaxdesk.app.core.Messages
import org.vaxdesk.app.core.Outcome
import org.vaxdesk.app.nav.Host
import org.vaxdesk.app.nav.Screen
import org.vaxdesk.app.storage.StorageProblemScreen
import org.vaxdesk.core.PinCheck
import org.vaxdesk.core.VaxdeskException

/**
 * SET: choose a PIN (typed twice) after enrolling; the database is then
 * encrypted under it. UNLOCK: the lock on start and after
 * [LockPolicy.BACKGROUND_LIMIT_MS] away; it also opens the database when the
 * keystore could not. CHANGE: current PIN, new PIN twice; the database is
 * re-keyed. Wrong PINs and lockouts are counted by the core, in a file, so a
 * restart does not reset them. What comes next is the host's decision
 * ([Host.pinDone]), so a recreated PIN screen knows it too.
 *
 * A typed PIN is taken out of the field as characters, handed to the core as
 * bytes, and both are wiped once used: never held in a String.
 */
class PinScreen(host: Host, val mode: Mode) : Screen(host) {
    enum class Mode { SET, UNLOCK, CHANGE }

    override val name = when (mode) {
        Mode.SET -> "pin-set"
        Mode.UNLOCK -> "pin"
        Mode.CHANGE -> "pin-change"
    }
    /** CHANGE: the current PIN, once typed. */
    private var current: ByteArray? = null
    /** SET and CHANGE: the new PIN typed once, waiting for the second time. */
    private var first: ByteArray? = null
    private var busy = false
    private lateinit var pin: org.vaxdesk.app.ui.Ui.Field
    private lateinit var message: android.widget.TextView
    private lateinit var prompt: android.widget.TextView

    override fun build(): View {
        pin = ui.field("pin", str(R.string.pin_label), "", InputType.TYPE_CLASS_NUMBER or InputType.TYPE_NUMBER_VARIATION_PASSWORD)
        message = ui.note("pin-message")
        prompt = ui.text(str(promptNow()), tag = "pin-prompt").also { ui.liveRegion(it) }
        val body = ui.column(prompt, pin.view, message)
        val ok = ui.button(str(R.string.pin_ok), "pin-ok", primary = true) { submit() }
        val title = when (mode) {
            Mode.SET -> R.string.pin_set_title
            Mode.UNLOCK -> R.string.pin_unlock_title
            Mode.CHANGE -> R.string.pin_change_title
        }
        return ui.page(str(title), body, ok)
    }

    override fun onHidden() = forget()

    /** The question as things stand (a rebuild mid-way asks the same one). */
    private fun promptNow() = when {
        first != null -> R.string.pin_set_again
        mode == Mode.CHANGE && current != null -> R.string.pin_change_new
        else -> firstPrompt()
    }

    private fun firstPrompt() = when (mode) {
        Mode.SET -> R.string.pin_set_prompt
        Mode.UNLOCK -> R.string.pin_unlock_prompt
        Mode.CHANGE -> R.string.pin_change_current
    }

    private fun submit() {
        if (busy) return
        val typed = take(pin.edit.text)
        when {
            mode == Mode.UNLOCK -> unlock(typed)
            mode == Mode.CHANGE && current == null -> {
                current = typed
                prompt.text = str(R.string.pin_change_new)
                ui.showNote(message, null)
            }
            else -> chooseNew(typed)
        }
    }

    private fun unlock(typed: ByteArray) {
        busy = true
        // Checked (and counted) by the core first; only a right PIN opens the database.
        coreCall({
            try {
                app.core.pin.check(typed).also { if (it is PinCheck.Unlocked) app.core.unlock(typed) }
            } finally {
                typed.fill(0)
            }
        }) { r ->
            busy = false
            when (r) {
                // Only a right PIN reaches the database: a storage error now means it is damaged.
                is Outcome.Failed -> if (r.error is VaxdeskException.Storage) {
                    host.restart(StorageProblemScreen(host, r.error))
                } else {
                    ui.showNote(message, Messages.error(host.activity, r.error))
                }
                is Outcome.Ok -> when (val c = r.value) {
                    is PinCheck.Unlocked -> host.pinDone(mode)
                    else -> showRefused(c)
                }
            }
        }
    }

    private fun showRefused(c: PinCheck) = when (c) {
        is PinCheck.Wrong -> ui.showNote(message, str(R.string.pin_wrong, c.attemptsLeft.toInt()))
        is PinCheck.LockedOut -> ui.showNote(message, str(R.string.pin_locked, c.seconds.toLong()))
        is PinCheck.Unlocked -> ui.showNote(message, null)
    }

    private fun chooseNew(typed: ByteArray) {
        val earlier = first
        if (earlier == null) {
            // The core's rule (4-8 digits, not one repeated) is checked when it is set; ask twice first.
            first = typed
            prompt.text = str(R.string.pin_set_again)
            ui.showNote(message, null)
            return
        }
        first = null
        val same = earlier.contentEquals(typed)
        earlier.fill(0)
        if (!same) {
            typed.fill(0)
            return startOver(str(R.string.pin_mismatch))
        }
        busy = true
        ui.showNote(message, str(R.string.pin_opening), warning = true)
        val old = current
        current = null
        // Setting a first PIN cannot be refused as wrong; a change can (the old PIN).
        coreCall({
            try {
                if (old == null) {
                    app.core.setPin(typed)
                    PinCheck.Unlocked
                } else {
                    app.core.changePin(old, typed)
                }
            } finally {
                typed.fill(0)
                old?.fill(0)
            }
        }) { r ->
            busy = false
            when (r) {
                is Outcome.Failed -> startOver(Messages.error(host.activity, r.error))
                is Outcome.Ok -> when (val c = r.value) {
                    is PinCheck.Unlocked -> host.pinDone(mode)
                    else -> { startOver(null); showRefused(c) }
                }
            }
        }
    }

    /** Back to the first question, with [note] under it. */
    private fun startOver(note: String?) {
        forget()
        prompt.text = str(firstPrompt())
        ui.showNote(message, note)
    }

    private fun forget() {
        current?.fill(0)
        first?.fill(0)
        current = null
        first = null
    }

    private companion object {
        /** The field's characters as UTF-8 bytes; the field and every copy are wiped. */
        fun take(text: Editable): ByteArray {
            val chars = CharArray(text.length)
            text.getChars(0, text.length, chars, 0)
            text.clear()
            val encoded = Charsets.UTF_8.encode(CharBuffer.wrap(chars))
            val bytes = ByteArray(encoded.remaining())
            encoded.get(bytes)
            chars.fill('\u0000')
            if (encoded.hasArray()) encoded.array().fill(0)
            return bytes
        }
    }
}
