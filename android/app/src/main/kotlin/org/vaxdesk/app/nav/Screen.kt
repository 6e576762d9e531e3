package org.vaxdesk.app.nav

import android.app.Activity
import android.os.Bundle
import android.view.View
import org.vaxdesk.app.VaxdeskApp
import org.vaxdesk.app.core.Outcome
import org.vaxdesk.app.pin.PinScreen
import org.vaxdesk.app.ui.Ui
import org.vaxdesk.core.Desk

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
    /** Is [screen] the one on show (on top, activity alive)? */
    fun isShowing(screen: Screen): Boolean
    /** Is the activity in front of the volunteer (resumed)? */
    val inFront: Boolean
    /** The PIN screen of [mode] finished: the host decides what comes next. */
    fun pinDone(mode: PinScreen.Mode)
}

/**
 * One screen of the app: builds its views from the core's state and turns
 * taps into core calls. Screens hold no records of their own, only what the
 * volunteer typed, which [save] keeps across recreation and process death.
 */
abstract class Screen(protected val host: Host) {
    protected val app get() = host.app
    protected val ui get() = host.ui
    protected fun str(id: Int, vararg args: Any): String = host.activity.getString(id, *args)

    /** A stable name, used by tests, screenshots and the saved stack. */
    abstract val name: String

    abstract fun build(): View

    /** Called after the views are attached: load what the screen shows. */
    open fun onShown() {}

    /** Called when another screen covers this one, or it is removed. */
    open fun onHidden() {}

    /** The activity came to the front (again) while this screen is on top. */
    open fun onResume() {}

    /** The activity left the front (another app, screen off) while this screen is on top. */
    open fun onPause() {}

    /** Back pressed: true when the screen handled it. */
    open fun onBack(): Boolean = false

    /**
     * Keep what the volunteer typed or chose in [out], to be handed to this
     * screen's restorer after recreation or process death (see Screens).
     * Nothing here may be needed to decide anything: only to refill views.
     */
    open fun save(out: Bundle) {}

    /**
     * A core call on the work lane. [done] runs only while this screen is
     * still the one on show: a result that comes back after the volunteer
     * moved on (or the activity was recreated) acts on nothing.
     */
    protected fun <T> core(work: (Desk) -> T, done: (Outcome<T>) -> Unit) =
        app.core.run(work) { r -> if (host.isShowing(this)) done(r) }

    /** The same on the sync lane (network), for syncs and certificates. */
    protected fun <T> syncing(work: (Desk) -> T, done: (Outcome<T>) -> Unit) =
        app.core.sync(work) { r -> if (host.isShowing(this)) done(r) }

    /** A core call without the desk (the PIN, setting data aside), guarded the same way. */
    protected fun <T> coreCall(work: () -> T, done: (Outcome<T>) -> Unit) =
        app.core.call(work) { r -> if (host.isShowing(this)) done(r) }
}
