package org.vaxdesk.app.settings

import android.content.Context
import android.content.res.Configuration
import java.util.Locale

/**
 * The app's language: Vietnamese unless the volunteer picks English,
 * whatever the phone's own language is (borrowed phones are often set to
 * English).
 */
object Language {
    private const val PREFS = "vaxdesk"
    private const val KEY = "language"
    val supported = listOf("vi", "en")

    fun get(ctx: Context): String = ctx.getSharedPreferences(PREFS, Context.MODE_PRIVATE).getString(KEY, "vi") ?: "vi"

    fun set(ctx: Context, lang: String) {
        require(lang in supported) { "language: one of $supported expected" }
        ctx.getSharedPreferences(PREFS, Context.MODE_PRIVATE).edit().putString(KEY, lang).apply()
    }

    /**
     * Switch a running activity's resources to the chosen language in place,
     * so the volunteer stays on the screen they were on.
     */
    @Suppress("DEPRECATION") // the replacement, createConfigurationContext, cannot change a live activity
    fun apply(ctx: Context) {
        val locale = Locale(get(ctx))
        Locale.setDefault(locale)
        val res = ctx.resources
        val config = Configuration(res.configuration)
        config.setLocale(locale)
        res.updateConfiguration(config, res.displayMetrics)
    }

    fun wrap(base: Context): Context {
        val locale = Locale(get(base))
        Locale.setDefault(locale)
        val config = Configuration(base.resources.configuration)
        config.setLocale(locale)
        return base.createConfigurationContext(config)
    }
}
