package org.vaxdesk.app.core

import android.content.Context
import org.vaxdesk.app.R
import org.vaxdesk.core.Finding
import org.vaxdesk.core.VaxdeskException

/**
 * The core's codes in the volunteer's language. The core's own message (in
 * English, with the values involved) is kept as the detail line.
 */
object Messages {
    fun finding(ctx: Context, f: Finding): String = byCode(ctx, "f_", f.code) ?: f.message

    fun error(ctx: Context, e: VaxdeskException): String = when (e) {
        is VaxdeskException.Sync -> byCode(ctx, "e_", e.code)
            ?: if (e.transient) ctx.getString(R.string.e_sync_network) else ctx.getString(R.string.e_generic, e.detail)
        is VaxdeskException.Storage -> ctx.getString(R.string.e_storage, e.code)
        is VaxdeskException.Input -> ctx.getString(R.string.e_input, fieldLabel(ctx, e.field), e.detail)
        is VaxdeskException.Refused -> e.findings.joinToString("\n") { finding(ctx, it) }
        is VaxdeskException.NotFound -> ctx.getString(R.string.e_generic, e.detail)
        is VaxdeskException.NotSetUp -> ctx.getString(R.string.e_not_set_up)
        is VaxdeskException.Frame -> ctx.getString(R.string.e_generic, e.detail)
        is VaxdeskException.Internal -> ctx.getString(R.string.e_internal, e.detail)
    }

    fun fieldLabel(ctx: Context, field: String): String = byCode(ctx, "field_", field) ?: field

    private fun byCode(ctx: Context, prefix: String, code: String): String? {
        val name = prefix + code.replace('.', '_').replace('-', '_')
        val id = ctx.resources.getIdentifier(name, "string", ctx.packageName)
        return if (id != 0) ctx.getString(id) else null
    }
}
