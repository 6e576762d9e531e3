package org.vaxdesk.app.settings

import android.view.View
import org.vaxdesk.app.R
import org.vaxdesk.app.core.Messages
import org.vaxdesk.app.core.Outcome
import org.vaxdesk.app.nav.Host
import org.vaxdesk.app.nav.Screen
import org.vaxdesk.app.pin.PinScreen
import org.vaxdesk.app.ui.named

/** Hub, sync now, language, and about (versions, device id, the guide). */
class SettingsScreen(host: Host) : Screen(host) {
    override val name = "settings"
    private lateinit var message: android.widget.TextView

    override fun build(): View {
        val s0 = app.core.facts ?: return ui.page(str(R.string.settings_title), ui.column())
        val s = s0.status
        val a = host.activity
        @Suppress("DEPRECATION")
        val version = a.packageManager.getPackageInfo(a.packageName, 0).versionName ?: "?"
        message = ui.note("settings-message")
        val body = ui.column(
            ui.card(
                ui.text(str(R.string.settings_hub, s.hub ?: "-"), tag = "settings-hub"),
                ui.text(str(R.string.settings_last_sync, s.lastSync?.replace('T', ' ')?.take(16) ?: str(R.string.never)), tag = "settings-last-sync"),
                ui.text(str(R.string.session_site, named(s.siteName, s.site))),
                ui.text(str(R.string.session_desk, named(s.deskName, s.desk))),
            ),
            ui.button(str(R.string.sync_now), "settings-sync") { syncNow() },
            message,
            ui.button(str(R.string.pin_change_title), "settings-pin") {
                host.go(PinScreen(host, PinScreen.Mode.CHANGE))
            },
            ui.text(str(R.string.settings_language), bold = true),
            ui.choice("language", listOf("vi" to "Tiếng Việt", "en" to "English"), Language.get(a)) { lang ->
                Language.set(a, lang)
                Language.apply(a)
                host.refresh()
            },
            ui.text(str(R.string.settings_about), bold = true),
            ui.card(
                ui.text(str(R.string.settings_version, version, s0.coreVersion), 15f, tag = "settings-version"),
                ui.text(str(R.string.settings_device, s.deviceId), 15f, tag = "settings-device"),
            ),
            ui.button(str(R.string.guide_title), "settings-guide") { host.go(GuideScreen(host)) },
        )
        if (app.state.pinChanged) {
            app.state.pinChanged = false
            ui.showNote(message, str(R.string.pin_changed), ok = true)
        }
        return ui.page(str(R.string.settings_title), body)
    }

    private fun syncNow() {
        ui.showNote(message, str(R.string.working), warning = true)
        syncing({ it.syncNow() }) { r ->
            when (r) {
                is Outcome.Failed -> ui.showNote(message, Messages.error(host.activity, r.error))
                is Outcome.Ok -> host.refresh()
            }
        }
    }
}
