package org.vaxdesk.app

import android.app.Activity
import android.content.Context
import android.os.Bundle
import android.os.SystemClock
import android.view.WindowManager
import android.widget.FrameLayout
import org.vaxdesk.app.enroll.EnrollScreen
import org.vaxdesk.app.nav.Host
import org.vaxdesk.app.nav.Screen
import org.vaxdesk.app.pin.LockPolicy
import org.vaxdesk.app.pin.PinScreen
import org.vaxdesk.app.scan.ScanScreen
import org.vaxdesk.app.session.SessionScreen
import org.vaxdesk.app.storage.StorageProblemScreen
import org.vaxdesk.app.settings.Language
import org.vaxdesk.app.sync.SyncScheduler
import org.vaxdesk.app.ui.Ui

/**
 * The one activity: a stack of screens. Where to start is read from the
 * core (enrolled? session today?) and the PIN lock is put in front whenever
 * the lock policy says so. Until the database is open (see CoreGateway)
 * only the PIN screen is shown.
 */
class MainActivity : Activity(), Host {
    override val activity: Activity get() = this
    override val app: VaxdeskApp get() = application as VaxdeskApp
    override lateinit var ui: Ui
    private lateinit var frame: FrameLayout
    private val stack = ArrayDeque<Screen>()

    val current: Screen? get() = stack.lastOrNull()

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
        // The database opens without the PIN only where the keystore kept its
        // key; otherwise the PIN typed on the lock screen opens it. One that
        // cannot be opened at all (damaged) must not crash the app: behind a
        // PIN the lock screen comes first (the right PIN then leads to the
        // problem), without one the problem shows at once.
        val start = try {
            if (app.core.openWithoutPin()) firstScreen() else lockScreen()
        } catch (e: org.vaxdesk.core.VaxdeskException) {
            if (app.core.pin.isSet()) lockScreen() else StorageProblemScreen(this, e)
        }
        restart(start)
        SyncScheduler.schedulePeriodic(this)
    }

    private fun lockScreen() = PinScreen(this, PinScreen.Mode.UNLOCK) { restart(firstScreen()) }

    private fun firstScreen(): Screen {
        val status = app.core.desk.status()
        return when {
            status.hub == null || !app.core.pin.isSet() -> EnrollScreen(this)
            app.core.desk.session() == null -> SessionScreen(this)
            else -> ScanScreen(this)
        }
    }

    override fun onStart() {
        super.onStart()
        val state = app.state
        if (LockPolicy.mustLock(app.core.pin.isSet(), state.unlocked, state.backgroundSince, SystemClock.elapsedRealtime())) {
            state.unlocked = false
            if (current !is PinScreen) go(PinScreen(this, PinScreen.Mode.UNLOCK) { back() })
        }
        state.backgroundSince = null
    }

    override fun onStop() {
        super.onStop()
        app.state.backgroundSince = SystemClock.elapsedRealtime()
        current?.onHidden()
    }

    override fun go(screen: Screen) {
        current?.onHidden()
        stack.addLast(screen)
        show(screen)
    }

    override fun restart(screen: Screen) {
        current?.onHidden()
        stack.clear()
        stack.addLast(screen)
        show(screen)
    }

    override fun back() {
        if (stack.size <= 1) {
            finish()
            return
        }
        stack.removeLast().onHidden()
        current?.let { show(it) }
    }

    override fun refresh() {
        current?.let { show(it) }
    }

    private fun show(screen: Screen) {
        frame.removeAllViews()
        frame.addView(screen.build())
        screen.onShown()
    }

    @Deprecated("framework API kept for minSdk 24")
    override fun onBackPressed() {
        val s = current ?: return
        if (s is PinScreen && s.mode == PinScreen.Mode.UNLOCK) return // the lock cannot be backed out of
        if (!s.onBack()) back()
    }

    /** Camera permission answers go to the screen that asked. */
    override fun onRequestPermissionsResult(requestCode: Int, permissions: Array<out String>, grantResults: IntArray) {
        (current as? ScanScreen)?.onPermission(grantResults.isNotEmpty() && grantResults[0] == android.content.pm.PackageManager.PERMISSION_GRANTED)
    }
}
