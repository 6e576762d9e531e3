package org.vaxdesk.app.nav

import android.app.Activity
import android.view.View
import org.vaxdesk.app.VaxdeskApp
import org.vaxdesk.app.ui.Ui

/** What a screen may ask of the activity that shows it. */
interface Host {
    val activity: Activity
    val app: VaxdeskApp
    val ui: Ui
    /** Show [screen] on top; back returns here. */
    fun go(screen: Screen)
    /** Show [screen] and forget everything below it. */
    fun restart(screen: Screen)
    fun back()
    /** Rebuild the current screen's views (after a language change, say). */
    fun refresh()
}

/**
 * One screen of the app: builds its views from the core's state and turns
 * taps into core calls. Screens hold no records of their own.
 */
abstract class Screen(protected val host: Host) {
    protected val app get() = host.app
    protected val ui get() = host.ui
    protected fun str(id: Int, vararg args: Any): String = host.activity.getString(id, *args)

    /** A stable name, used by tests and screenshots. */
    abstract val name: String

    abstract fun build(): View

    /** Called after the views are attached: load what the screen shows. */
    open fun onShown() {}

    /** Called when another screen covers this one or the app leaves. */
    open fun onHidden() {}

    /** Back pressed: true when the screen handled it. */
    open fun onBack(): Boolean = false
}
