package org.vaxdesk.app.ui

import android.content.Context
import android.graphics.Typeface
import android.graphics.drawable.GradientDrawable
import android.text.InputType
import android.util.TypedValue
import android.view.Gravity
import android.view.View
import android.view.ViewGroup.LayoutParams.MATCH_PARENT
import android.view.ViewGroup.LayoutParams.WRAP_CONTENT
import android.widget.Button
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.ScrollView
import android.widget.TextView
import org.vaxdesk.app.R

/**
 * Views built in code, one style for the whole app: large text, touch
 * targets of at least 56 dp, the main action at the bottom where a thumb
 * reaches. Views that tests look for carry a tag.
 */
class Ui(private val ctx: Context) {
    fun dp(v: Int): Int = TypedValue.applyDimension(TypedValue.COMPLEX_UNIT_DIP, v.toFloat(), ctx.resources.displayMetrics).toInt()
    private fun color(id: Int) = ctx.resources.getColor(id, ctx.theme)

    fun column(vararg views: View, pad: Int = 16): LinearLayout = LinearLayout(ctx).apply {
        orientation = LinearLayout.VERTICAL
        setPadding(dp(pad), dp(pad), dp(pad), dp(pad))
        views.forEach { addView(it, LinearLayout.LayoutParams(MATCH_PARENT, WRAP_CONTENT).apply { bottomMargin = dp(8) }) }
    }

    fun row(vararg views: View): LinearLayout = LinearLayout(ctx).apply {
        orientation = LinearLayout.HORIZONTAL
        views.forEach { addView(it, LinearLayout.LayoutParams(0, WRAP_CONTENT, 1f).apply { marginEnd = dp(8) }) }
    }

    fun add(parent: LinearLayout, view: View) {
        parent.addView(view, LinearLayout.LayoutParams(MATCH_PARENT, WRAP_CONTENT).apply { bottomMargin = dp(8) })
    }

    /** A page: a scrolling body and, pinned at the bottom, the main actions. */
    fun page(title: String, body: View, vararg actions: View): View {
        val bar = TextView(ctx).apply {
            text = title
            setTextSize(TypedValue.COMPLEX_UNIT_SP, 22f)
            setTypeface(typeface, Typeface.BOLD)
            setTextColor(0xFFFFFFFF.toInt())
            setBackgroundColor(color(R.color.brand))
            setPadding(dp(16), dp(14), dp(16), dp(14))
            tag = "title"
            if (android.os.Build.VERSION.SDK_INT >= 28) isAccessibilityHeading = true
        }
        val scroll = ScrollView(ctx).apply { isFillViewport = true; addView(body) }
        val bottom = column(*actions, pad = 12)
        return LinearLayout(ctx).apply {
            orientation = LinearLayout.VERTICAL
            // A screen reader announces each new screen by its title.
            if (android.os.Build.VERSION.SDK_INT >= 28) accessibilityPaneTitle = title
            addView(bar, LinearLayout.LayoutParams(MATCH_PARENT, WRAP_CONTENT))
            addView(scroll, LinearLayout.LayoutParams(MATCH_PARENT, 0, 1f))
            if (actions.isNotEmpty()) addView(bottom, LinearLayout.LayoutParams(MATCH_PARENT, WRAP_CONTENT))
        }
    }

    fun text(s: CharSequence, sp: Float = 18f, tag: String? = null, bold: Boolean = false, muted: Boolean = false): TextView =
        TextView(ctx).apply {
            text = s
            setTextSize(TypedValue.COMPLEX_UNIT_SP, sp)
            if (bold) setTypeface(typeface, Typeface.BOLD)
            setTextColor(if (muted) color(R.color.muted) else 0xFF1B1F1D.toInt())
            this.tag = tag
        }

    /**
     * A message under a field or a form: red for errors, amber for warnings.
     * A live region, so a screen reader says it when it appears.
     */
    fun note(tag: String): TextView = TextView(ctx).apply {
        setTextSize(TypedValue.COMPLEX_UNIT_SP, 16f)
        visibility = View.GONE
        this.tag = tag
        liveRegion(this)
    }

    /** Changes of [v]'s text are read out by a screen reader (status lines). */
    fun liveRegion(v: View) {
        v.accessibilityLiveRegion = View.ACCESSIBILITY_LIVE_REGION_POLITE
    }

    /** Red for errors, amber for warnings and progress, green with [ok]. */
    fun showNote(v: TextView, message: String?, warning: Boolean = false, ok: Boolean = false) {
        if (message.isNullOrEmpty()) {
            v.visibility = View.GONE
            return
        }
        v.text = message
        v.setTextColor(color(if (ok) R.color.ok else if (warning) R.color.warning else R.color.error))
        v.background = if (ok) rounded(color(R.color.ok_bg)) else if (warning) rounded(color(R.color.warning_bg)) else null
        v.setPadding(dp(8), dp(4), dp(8), dp(4))
        v.visibility = View.VISIBLE
    }

    fun button(label: String, tag: String, primary: Boolean = false, onTap: () -> Unit): Button = Button(ctx).apply {
        text = label
        this.tag = tag
        isAllCaps = false
        minHeight = dp(if (primary) 64 else 56)
        setTextSize(TypedValue.COMPLEX_UNIT_SP, if (primary) 22f else 18f)
        if (primary) {
            setTextColor(0xFFFFFFFF.toInt())
            background = rounded(color(R.color.brand))
        }
        setOnClickListener { onTap() }
    }

    /**
     * A labelled text field with its own note line for findings. The label
     * is tied to the field (a screen reader names the field by it) and the
     * field's hint repeats it.
     */
    inner class Field(val key: String, labelText: String, value: String, inputType: Int) {
        val edit = EditText(ctx).apply {
            id = View.generateViewId()
            setText(value)
            this.inputType = inputType
            setTextSize(TypedValue.COMPLEX_UNIT_SP, 20f)
            minHeight = dp(56)
            hint = labelText
            tag = "field:$key"
            // The screens keep what must survive in their own saved state;
            // the view's own copy would put a typed PIN in the Bundle.
            isSaveEnabled = false
        }
        val label = text(labelText, 15f, muted = true).apply { labelFor = edit.id; tag = "label:$key" }
        val note = note("note:$key")
        val view = LinearLayout(ctx).apply {
            orientation = LinearLayout.VERTICAL
            addView(label)
            addView(edit)
            addView(note)
        }
        var value: String
            get() = edit.text.toString().trim()
            set(v) = edit.setText(v)
    }

    fun field(key: String, label: String, value: String, inputType: Int = InputType.TYPE_CLASS_TEXT or InputType.TYPE_TEXT_FLAG_CAP_WORDS) =
        Field(key, label, value, inputType)

    /** Buttons of which one is chosen (sex, vaccine, lot, outcome). */
    fun choice(key: String, options: List<Pair<String, String>>, chosen: String?, onChange: (String) -> Unit): LinearLayout {
        val row = LinearLayout(ctx).apply { orientation = LinearLayout.HORIZONTAL; tag = "choice:$key" }
        val buttons = options.map { (value, label) ->
            Button(ctx).apply {
                text = label
                isAllCaps = false
                minHeight = dp(56)
                setTextSize(TypedValue.COMPLEX_UNIT_SP, 18f)
                tag = "$key=$value"
            }
        }
        fun paint(selected: String?) = buttons.forEachIndexed { i, b ->
            val on = options[i].first == selected
            b.background = rounded(if (on) color(R.color.brand) else 0xFFE3E8E6.toInt())
            b.setTextColor(if (on) 0xFFFFFFFF.toInt() else 0xFF1B1F1D.toInt())
            b.isSelected = on
        }
        buttons.forEachIndexed { i, b ->
            b.setOnClickListener { paint(options[i].first); onChange(options[i].first) }
            row.addView(b, LinearLayout.LayoutParams(0, WRAP_CONTENT, 1f).apply { marginEnd = dp(6) })
        }
        paint(chosen)
        return row
    }

    fun card(vararg views: View, tag: String? = null): LinearLayout = column(*views, pad = 12).apply {
        background = rounded(0xFFFFFFFF.toInt(), stroke = 0xFFD5DCD9.toInt())
        this.tag = tag
        gravity = Gravity.START
    }

    private fun rounded(fill: Int, stroke: Int? = null) = GradientDrawable().apply {
        cornerRadius = dp(10).toFloat()
        setColor(fill)
        if (stroke != null) setStroke(dp(1), stroke)
    }
}

/** "Trạm y tế Hồng Hải (QN-01)": the name the hub gave, with the code coordinators use. */
fun named(name: String?, code: String?): String = when {
    code == null -> "-"
    name.isNullOrBlank() || name == code -> code
    else -> "$name ($code)"
}
