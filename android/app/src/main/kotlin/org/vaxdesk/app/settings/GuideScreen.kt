package org.vaxdesk.app.settings

import android.text.SpannableStringBuilder
import android.text.Spanned
import android.text.style.RelativeSizeSpan
import android.text.style.StyleSpan
import android.graphics.Typeface
import android.view.View
import org.vaxdesk.app.R
import org.vaxdesk.app.nav.Host
import org.vaxdesk.app.nav.Screen

/**
 * The volunteer's one-page guide (docs/huong-dan-tinh-nguyen-vien.md, packed
 * as an asset), shown offline. Headings and bold are drawn; the rest is text.
 */
class GuideScreen(host: Host) : Screen(host) {
    override val name = "guide"

    override fun build(): View {
        val md = host.activity.assets.open(ASSET).use { it.readBytes().toString(Charsets.UTF_8) }
        return ui.page(str(R.string.guide_title), ui.column(ui.text(render(md), 17f, tag = "guide-text")))
    }

    companion object {
        const val ASSET = "huong-dan-tinh-nguyen-vien.md"

        fun render(md: String): CharSequence {
            val out = SpannableStringBuilder()
            for (raw in md.lines()) {
                val level = raw.takeWhile { it == '#' }.length
                val line = raw.drop(level).trim().let { if (it.startsWith("- ")) "•  " + it.drop(2) else it }
                val start = out.length
                var bold = false
                var boldFrom = 0
                // **bold** spans inside the line
                var i = 0
                while (i < line.length) {
                    if (line.startsWith("**", i)) {
                        if (bold) out.setSpan(StyleSpan(Typeface.BOLD), boldFrom, out.length, Spanned.SPAN_EXCLUSIVE_EXCLUSIVE) else boldFrom = out.length
                        bold = !bold
                        i += 2
                    } else {
                        out.append(line[i])
                        i++
                    }
                }
                if (level > 0) {
                    out.setSpan(StyleSpan(Typeface.BOLD), start, out.length, Spanned.SPAN_EXCLUSIVE_EXCLUSIVE)
                    out.setSpan(RelativeSizeSpan(if (level == 1) 1.4f else 1.15f), start, out.length, Spanned.SPAN_EXCLUSIVE_EXCLUSIVE)
                }
                out.append('\n')
            }
            return out
        }
    }
}
