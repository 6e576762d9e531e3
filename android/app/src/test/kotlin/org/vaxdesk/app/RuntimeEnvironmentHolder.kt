package org.vaxdesk.app

import android.app.Application
import org.robolectric.RuntimeEnvironment

internal object RuntimeEnvironmentHolder {
    fun app(): Application = RuntimeEnvironment.getApplication()
}
