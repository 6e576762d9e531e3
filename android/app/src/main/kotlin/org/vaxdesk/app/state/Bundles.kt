package org.vaxdesk.app.state

import android.os.Bundle
import org.vaxdesk.core.PersonDraftInfo
import org.vaxdesk.core.ToFix

/** The core's records a screen keeps in its saved state, field by field. */
object Bundles {
    fun put(out: Bundle, key: String, d: PersonDraftInfo) {
        out.putBundle(key, Bundle().apply {
            putString("id", d.id)
            putString("nationalId", d.nationalId)
            putBoolean("cmnd", d.cmnd)
            putString("fullName", d.fullName)
            putString("birthDate", d.birthDate)
            putString("sex", d.sex)
            putString("phone", d.phone)
            putString("healthInsurance", d.healthInsurance)
            putString("priorityGroup", d.priorityGroup)
            putString("addressLine", d.addressLine)
            putString("provinceCode", d.provinceCode)
            putString("districtCode", d.districtCode)
            putString("wardCode", d.wardCode)
            putString("source", d.source)
            putString("charsetGuessed", d.charsetGuessed)
        })
    }

    fun draft(from: Bundle, key: String): PersonDraftInfo? = from.getBundle(key)?.let { b ->
        PersonDraftInfo(
            id = b.getString("id"),
            nationalId = b.getString("nationalId"),
            cmnd = b.getBoolean("cmnd"),
            fullName = b.getString("fullName") ?: "",
            birthDate = b.getString("birthDate") ?: "",
            sex = b.getString("sex"),
            phone = b.getString("phone"),
            healthInsurance = b.getString("healthInsurance"),
            priorityGroup = b.getString("priorityGroup"),
            addressLine = b.getString("addressLine"),
            provinceCode = b.getString("provinceCode"),
            districtCode = b.getString("districtCode"),
            wardCode = b.getString("wardCode"),
            source = b.getString("source") ?: "manual",
            charsetGuessed = b.getString("charsetGuessed"),
        )
    }

    fun put(out: Bundle, key: String, f: ToFix) {
        out.putBundle(key, Bundle().apply {
            putString("eventId", f.eventId)
            putString("stream", f.stream)
            putString("code", f.code)
            putString("message", f.message)
            putString("personId", f.personId)
            putString("recordId", f.recordId)
        })
    }

    fun toFix(from: Bundle, key: String): ToFix? = from.getBundle(key)?.let { b ->
        ToFix(
            eventId = b.getString("eventId") ?: return null,
            stream = b.getString("stream") ?: return null,
            code = b.getString("code"),
            message = b.getString("message"),
            personId = b.getString("personId"),
            recordId = b.getString("recordId"),
        )
    }
}
