package org.vaxdesk.app.nav

import android.os.Build
import android.os.Bundle
import org.vaxdesk.app.cert.CertificateScreen
import org.vaxdesk.app.enroll.EnrollScreen
import org.vaxdesk.app.pin.PinScreen
import org.vaxdesk.app.queue.QueueScreen
import org.vaxdesk.app.scan.ScanScreen
import org.vaxdesk.app.session.SessionScreen
import org.vaxdesk.app.settings.GuideScreen
import org.vaxdesk.app.settings.SettingsScreen
import org.vaxdesk.app.visit.ElsewhereScreen
import org.vaxdesk.app.visit.VisitScreen

/**
 * The screen stack in a saved instance state: each screen's name and what it
 * kept in [Screen.save], bottom first. The PIN lock, the starting screen and
 * the storage problem are never kept: the start decides those again.
 */
object Screens {
    private const val KEY = "vaxdesk.stack"
    const val NAME = "screen"
    private val notKept = setOf("pin", "starting", "storage-problem")

    fun saveStack(stack: Collection<Screen>, out: Bundle) {
        val list = ArrayList<Bundle>()
        for (s in stack) {
            if (s.name in notKept) continue
            list.add(Bundle().apply { putString(NAME, s.name); s.save(this) })
        }
        out.putParcelableArrayList(KEY, list)
    }

    /** A stack saved earlier and not put back yet, saved again as it was. */
    fun putStack(stack: List<Bundle>, out: Bundle) {
        out.putParcelableArrayList(KEY, ArrayList(stack))
    }

    fun stackOf(saved: Bundle): List<Bundle>? =
        if (Build.VERSION.SDK_INT >= 33) saved.getParcelableArrayList(KEY, Bundle::class.java)
        else @Suppress("DEPRECATION") saved.getParcelableArrayList(KEY)

    /** The screen [b] describes, or null for one that is not kept. */
    fun restore(host: Host, b: Bundle): Screen? = when (b.getString(NAME)) {
        "enroll" -> EnrollScreen(host).also { it.restore(b) }
        "scan" -> ScanScreen(host, ScanScreen.Purpose.PERSON)
        "scan-enroll" -> ScanScreen(host, ScanScreen.Purpose.ENROLL)
        // A PIN is never kept: the question starts again.
        "pin-set" -> PinScreen(host, PinScreen.Mode.SET)
        "pin-change" -> PinScreen(host, PinScreen.Mode.CHANGE)
        "session" -> SessionScreen(host).also { it.restore(b) }
        "visit", "fix" -> VisitScreen.restore(host, b)
        "elsewhere" -> ElsewhereScreen.restore(host, b)
        "queue" -> QueueScreen(host)
        "settings" -> SettingsScreen(host)
        "guide" -> GuideScreen(host)
        "certificate" -> b.getString("person")?.let { CertificateScreen(host, it) }
        else -> null
    }
}
