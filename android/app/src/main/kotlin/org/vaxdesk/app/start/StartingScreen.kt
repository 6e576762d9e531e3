package org.vaxdesk.app.start

import android.view.View
import org.vaxdesk.app.R
import org.vaxdesk.app.core.Messages
import org.vaxdesk.app.nav.Host
import org.vaxdesk.app.nav.Screen
import org.vaxdesk.core.VaxdeskException

/**
 * Shown while the core library loads and the database opens on a core
 * thread (never on the main thread: on a cheap phone that can take a
 * second). Should the start fail for a reason other than a damaged
 * database, the error shows with a way to try again.
 */
class StartingScreen(host: Host, private val retry: () -> Unit) : Screen(host) {
    override val name = "starting"
    private var error: VaxdeskException? = null

    override fun build(): View {
        val body = ui.column(ui.text(str(R.string.starting), tag = "starting", muted = true))
        val e = error ?: return ui.page(str(R.string.app_name), body)
        val note = ui.note("starting-error")
        ui.showNote(note, Messages.error(host.activity, e))
        ui.add(body, note)
        return ui.page(str(R.string.app_name), body, ui.button(str(R.string.try_again), "starting-retry", primary = true) { retry() })
    }

    fun failed(e: VaxdeskException) {
        error = e
        host.refresh()
    }
}
