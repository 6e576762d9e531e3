package org.vaxdesk.app

import android.Manifest
import android.app.Activity
import android.content.Context
import android.content.pm.PackageManager
import android.content.res.Configuration
import android.os.Bundle
import android.os.SystemClock
import android.view.WindowManager
import android.widget.FrameLayout
import org.vaxdesk.app.core.DeskFacts
import org.vaxdesk.app.core.Outcome
import org.vaxdesk.app.core.Start
import org.vaxdesk.app.enroll.EnrollScreen
import org.vaxdesk.app.nav.Host
import org.vaxdesk.app.nav.Screen
import org.vaxdesk.app.nav.Screens
import org.vaxdesk.app.pin.LockPolicy
import org.vaxdesk.app.pin.PinScreen
import org.vaxdesk.app.scan.ScanScreen
import org.vaxdesk.app.session.SessionScreen
import org.vaxdesk.app.settings.Language
import org.vaxdesk.app.start.StartingScreen
import org.vaxdesk.app.storage.StorageProblemScreen
import org.vaxdesk.app.sync.SyncScheduler
import org.vaxdesk.app.ui.Ui

/**
 * The one activity: a stack of screens. Where to start is read from the
 * core on a core thread (enrolled? session today? PIN?) while a starting
 * screen shows; the PIN lock is put in front whenever the lock policy says
 * so. The stack and what the volunteer typed are kept in the saved instance
 * state, so a recreation or a process death brings them back (behind the
 * PIN lock when there is one).
 */
class MainActivity : Activity(), Host {
    override val activity: Activity get() = this
    override val app: VaxdeskApp get() = application as VaxdeskApp
    override lateinit var ui: Ui
    private lateinit var frame: FrameLayout
    private val stack = ArrayDeque<Screen>()
    private var resumedNow = false
    /** The stack saved before a recreation, put back once the desk is open. */
    private var savedStack: List<Bundle>? = null

    val current: Screen? get() = stack.lastOrNull()
    override val inFront: Boolean get() = resumedNow

    override fun attachBaseContext(base: Context) {
        super.attachBaseContext(Language.wrap(base))
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        // Citizens' names and ids are on screen: keep them out of the
        // recent-apps thumbnail and of screenshots.
        window.setFlags(WindowManager.LayoutParams.FLAG_SECURE, WindowManager.LayoutParams.FLAG_SECURE)
        ui = Ui(this)
        frame = FrameLayout(this)
        setContentView(frame)
        savedStack = savedInstanceState?.let { Screens.stackOf(it) }
        val facts = app.core.facts
        if (app.core.isOpen && facts != null) {
            // A recreation in a living process: the desk is open already.
            started(Start.Ready(facts))
        } else {
            startDesk()
        }
        SyncScheduler.schedulePeriodic(this)
    }

    /** Open the desk on a core thread while the starting screen shows. */
    private fun startDesk() {
        restart(StartingScreen(this) { startDesk() })
        app.core.start { r -> if (!isDestroyed) onStarted(r) }
    }

    private fun onStarted(r: Outcome<Start>) = when (r) {
        is Outcome.Ok -> started(r.value)
        is Outcome.Failed -> (current as? StartingScreen)?.failed(r.error) ?: Unit
    }

    private fun started(s: Start) {
        when (s) {
            is Start.NeedsPin -> restart(PinScreen(this, PinScreen.Mode.UNLOCK))
            is Start.Damaged -> restart(StorageProblemScreen(this, s.error))
            is Start.Ready -> if (mustLock(s.facts)) {
                app.state.unlocked = false
                restart(PinScreen(this, PinScreen.Mode.UNLOCK))
            } else {
                showDesk(s.facts)
            }
        }
    }

    private fun mustLock(f: DeskFacts) =
        LockPolicy.mustLock(f.pinSet, app.state.unlocked, app.state.backgroundSince, SystemClock.elapsedRealtime())

    /** The desk is open and unlocked: the saved stack, or where the facts say to start. */
    private fun showDesk(f: DeskFacts) {
        val saved = savedStack
        savedStack = null
        val restored = saved?.mapNotNull { Screens.restore(this, it) }.orEmpty()
        val first = firstScreen(f)
        if (restored.isNotEmpty() && restored.first().name == first.name) {
            stack.clear()
            stack.addAll(restored.dropLast(1))
            restart(restored.last(), keepBelow = true)
        } else {
            restart(first)
        }
    }

    private fun firstScreen(f: DeskFacts): Screen = when {
        !f.enrolled || !f.pinSet -> EnrollScreen(this)
        f.session == null -> SessionScreen(this)
        else -> ScanScreen(this)
    }

    override fun pinDone(mode: PinScreen.Mode) {
        when (mode) {
            PinScreen.Mode.UNLOCK -> {
                app.state.unlocked = true
                val f = app.core.facts
                if (stack.size > 1) back() else if (f != null) showDesk(f)
            }
            // After enrolling: the session screen syncs for the catalog and lots.
            PinScreen.Mode.SET -> {
                app.state.unlocked = true
                restart(SessionScreen(this, syncFirst = true))
            }
            PinScreen.Mode.CHANGE -> {
                app.state.pinChanged = true
                back()
            }
        }
    }

    override fun onStart() {
        super.onStart()
        val f = app.core.facts
        if (f != null && app.core.isOpen && current !is StartingScreen && current !is StorageProblemScreen && mustLock(f)) {
            app.state.unlocked = false
            val top = current
            if (!(top is PinScreen && top.mode == PinScreen.Mode.UNLOCK)) go(PinScreen(this, PinScreen.Mode.UNLOCK))
        }
        app.state.backgroundSince = null
    }

    override fun onResume() {
        super.onResume()
        resumedNow = true
        current?.onResume()
    }

    override fun onPause() {
        resumedNow = false
        current?.onPause()
        super.onPause()
    }

    override fun onStop() {
        super.onStop()
        app.state.backgroundSince = SystemClock.elapsedRealtime()
    }

    override fun onDestroy() {
        current?.onHidden()
        super.onDestroy()
    }

    override fun onSaveInstanceState(outState: Bundle) {
        super.onSaveInstanceState(outState)
        // Not put back yet (the PIN lock is still up): keep what was saved, again.
        val waiting = savedStack
        if (waiting != null) Screens.putStack(waiting, outState) else Screens.saveStack(stack, outState)
    }

    /** Android 10+: in multi-window, the app on top gets the camera back. */
    override fun onTopResumedActivityChanged(isTopResumedActivity: Boolean) {
        super.onTopResumedActivityChanged(isTopResumedActivity)
        if (isTopResumedActivity) (current as? ScanScreen)?.retryCamera()
    }

    /**
     * Font size, dark mode, language, density and window size changes are
     * handled here (manifest configChanges): the views are rebuilt in the
     * app's own language, and the stack and typing stay as they are.
     */
    override fun onConfigurationChanged(newConfig: Configuration) {
        super.onConfigurationChanged(newConfig)
        Language.apply(this)
        ui = Ui(this)
        refresh()
    }

    override fun go(screen: Screen) {
        current?.let { it.onPause(); it.onHidden() }
        stack.addLast(screen)
        show(screen)
    }

    override fun restart(screen: Screen) = restart(screen, keepBelow = false)

    private fun restart(screen: Screen, keepBelow: Boolean) {
        current?.let { it.onPause(); it.onHidden() }
        if (!keepBelow) stack.clear()
        stack.addLast(screen)
        show(screen)
    }

    override fun back() {
        if (stack.size <= 1) {
            finish()
            return
        }
        stack.removeLast().let { it.onPause(); it.onHidden() }
        current?.let { show(it) }
    }

    override fun refresh() {
        current?.let { frame.removeAllViews(); frame.addView(it.build()) }
    }

    override fun isShowing(screen: Screen) = current === screen && !isFinishing && !isDestroyed

    private fun show(screen: Screen) {
        frame.removeAllViews()
        frame.addView(screen.build())
        screen.onShown()
        if (resumedNow) screen.onResume()
    }

    @Deprecated("framework API kept for minSdk 24")
    override fun onBackPressed() {
        val s = current ?: return
        if (s is PinScreen && s.mode == PinScreen.Mode.UNLOCK) return // the lock cannot be backed out of
        if (s is StartingScreen) return
        if (!s.onBack()) back()
    }

    /** Camera permission answers go to the screen that asked. */
    override fun onRequestPermissionsResult(requestCode: Int, permissions: Array<out String>, grantResults: IntArray) {
        // Empty: the request was interrupted (another dialog, a rotation); it is asked again on resume.
        if (grantResults.isEmpty()) return
        val granted = grantResults.isNotEmpty() && grantResults[0] == PackageManager.PERMISSION_GRANTED
        // No rationale after a refusal: "don't ask again" (or a policy) — only the app's settings can grant it now.
        val forGood = !granted && !shouldShowRequestPermissionRationale(Manifest.permission.CAMERA)
        (current as? ScanScreen)?.onPermission(granted, forGood)
    }
}
