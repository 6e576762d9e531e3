package org.vaxdesk.app

import android.app.Application
import org.vaxdesk.app.core.CoreGateway
import org.vaxdesk.app.state.AppState

/**
 * Holds the one core gateway and the app's state for the activity and the
 * background sync job alike: both must see the same open database.
 * Making the gateway touches no native code; the core loads on its thread.
 */
class VaxdeskApp : Application() {
    @Volatile private var gateway: CoreGateway? = null

    val core: CoreGateway
        get() = gateway ?: synchronized(this) { gateway ?: CoreGateway.open(this).also { gateway = it } }

    @Volatile var state = AppState()
        private set

    /**
     * Tests: lose what a process death loses (the open database, the
     * in-memory state); the files stay, as they do on the phone.
     */
    fun simulateProcessDeath() {
        gateway?.close()
        gateway = null
        state = AppState()
    }
}
