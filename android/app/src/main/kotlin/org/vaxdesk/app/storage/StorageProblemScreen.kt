package org.vaxdesk.app.storage

import android.view.View
import android.widget.Button
import android.widget.TextView
import org.vaxdesk.app.R
import org.vaxdesk.app.core.Messages
import org.vaxdesk.app.core.Outcome
import org.vaxdesk.app.enroll.EnrollScreen
import org.vaxdesk.app.nav.Host
import org.vaxdesk.app.nav.Screen
import org.vaxdesk.core.VaxdeskException

/**
 * The desk's database cannot be opened even though the PIN is right (or no
 * PIN was set yet): damaged storage. The volunteer sees the core's error and
 * can set the data aside (moved, never deleted) and enroll again, so the
 * desk keeps working; the coordinator can try to recover what was in it.
 * Setting aside takes two taps: it ends this phone's enrollment.
 */
class StorageProblemScreen(host: Host, private val error: VaxdeskException) : Screen(host) {
    override val name = "storage-problem"
    private var armed = false
    private lateinit var message: TextView
    private lateinit var aside: Button

    override fun build(): View {
        message = ui.note("storage-message")
        ui.showNote(message, Messages.error(host.activity, error))
        val body = ui.column(message, ui.text(str(R.string.storage_explain), tag = "storage-explain"))
        aside = ui.button(str(R.string.storage_set_aside), "storage-set-aside") { setAside() }
        return ui.page(str(R.string.storage_title), body, aside)
    }

    private fun setAside() {
        if (!armed) {
            armed = true
            aside.text = str(R.string.storage_set_aside_confirm)
            return
        }
        coreCall({ app.core.setAside() }) { r ->
            when {
                r is Outcome.Ok && r.value != null -> host.restart(EnrollScreen(host))
                r is Outcome.Failed -> ui.showNote(message, Messages.error(host.activity, r.error))
                else -> ui.showNote(message, str(R.string.storage_set_aside_failed))
            }
        }
    }
}
