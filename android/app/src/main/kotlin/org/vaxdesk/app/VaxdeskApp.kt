package org.vaxdesk.app

import android.app.Application
import org.vaxdesk.app.core.CoreGateway
import org.vaxdesk.app.state.AppState

/**
 * Holds the one core gateway and the app's state for the activity and the
 * background sync job alike: both must see the same open database.
 */
class VaxdeskApp : Application() {
    val core: CoreGateway by lazy { CoreGateway.open(this) }
    val state = AppState()
}
