// The core through its Kotlin bindings, on a desktop JVM, against the real
// library and a real hub process: what the Android shell will do.

import java.io.File
import java.net.ServerSocket
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.ByteBuffer
import java.nio.file.Files
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import kotlin.test.AfterTest
import kotlin.test.BeforeTest
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import org.vaxdesk.core.*
import org.vaxdesk.testkit.*

class CoreTest {
    lateinit var dir: File

    @BeforeTest fun setUp() { dir = Files.createTempDirectory("vaxdesk-kt").toFile() }
    @AfterTest fun tearDown() { dir.deleteRecursively() }

    private fun newDesk(name: String = "desk.db") = Desk.open(File(dir, name).path, null)

    @Test fun enrollScanSaveSyncAndQueue() {
        Hub(dir).use { hub ->
            newDesk().use { desk ->
                val e = desk.enroll(hub.enrollmentText(), "Kotlin test phone")
                assertEquals("QN-01", e.site)
                assertEquals("D1", e.desk)
                desk.syncNow() // brings the hub's catalog with lot AZ2107
                assertTrue(desk.vaccines().first { it.code == "AZ" }.lots.contains("AZ2107"))
                desk.startSession("AZ", listOf("AZ2107"))

                // A CCCD card, as text typed or scanned: the draft fills the form.
                val scanned = Scanner().use { it.parse(HOA) }
                assertEquals("cccd", scanned.kind)
                // Which code a screen takes is the core's rule.
                Scanner().use { sc ->
                    val enrollCode = sc.parse("VXD1:{\"hub\":\"https://10.0.0.2:8443\",\"code\":\"ABCD-EFGH-JKLM\"}")
                    assertEquals(1u, sc.choose(ScanPurpose.PERSON, listOf(enrollCode, scanned)).taken)
                    assertEquals("cccd", sc.choose(ScanPurpose.ENROLL, listOf(scanned)).wrongKind)
                }
                val draft = scanned.draft!!
                assertEquals("Nguyễn Thị Hoa", draft.fullName)
                // The visit: the core matches (nobody yet), then saves the
                // person and the session's dose; the same visit again saves nothing.
                val plan = desk.prepareVisit(draft)
                assertEquals(null, plan.matched)
                assertTrue(plan.findings.isEmpty())
                val visit = VisitSaveInfo(newVisitId(), plan.draft, VisitDoseInfo(null, null, DoseOutcome.VACCINATED, null), null, null, emptyList())
                val saved = desk.saveVisit(visit)
                assertEquals(1, saved.dose!!.doseNumber!!.toInt())
                assertEquals("AZ2107", saved.dose!!.lot)
                assertTrue(desk.saveVisit(visit).repeated)
                val person = saved.person
                assertEquals(2, desk.nextDose(person.id).doseNumber.toInt())
                assertEquals(1, desk.todaysDoses().size)

                val sync = desk.syncNow()
                assertEquals(2uL, sync.pushed)
                assertEquals(2uL, sync.accepted)
                val q = desk.queue()
                assertEquals(0uL, q.pending)
                assertEquals(2uL, q.accepted)
                assertTrue(q.toFix.isEmpty())
                assertEquals(hub.url, desk.status().hub)

                // A dose given in another province, known by its day: no lot,
                // no schedule rule (Abdala at 17), counted in the series.
                val ayun = desk.savePerson(PersonDraftInfo(null, null, false, "Y Bình Ayun", "2004-03-01", "male", null, null, null, null, null, null, null, "manual"), emptyList())
                val before = DoseDraftInfo(ayun.id, "AB", null, null, null, "10/08/2021", DoseOutcome.VACCINATED, null, "TYT Ninh Kiều, Cần Thơ")
                assertEquals(1, desk.recordDose(before, emptyList()).doseNumber!!.toInt())
                val history = desk.history(ayun.id)
                assertEquals("TYT Ninh Kiều, Cần Thơ", history[0].givenElsewhere)
                assertTrue(history[0].administeredAt.startsWith("2021-08-10T00:00:00+07:00"))
                assertEquals(2, desk.nextDose(ayun.id).doseNumber.toInt())
                // The fix of a record starts from the record, not from today.
                val start = desk.doseDraftOf(history[0].id)
                assertEquals("AB", start.vaccine)
                assertEquals("TYT Ninh Kiều, Cần Thơ", start.givenElsewhere)
            }
        }
    }

    @Test fun refusalsAreTypedExceptionsWithCodes() {
        newDesk().use { desk ->
            val bad = PersonDraftInfo(null, "02218700123", false, "Nguyễn Thị Hoa", "1987-05-02", "female", null, null, null, null, null, null, null, "manual")
            val ex = assertFailsWith<VaxdeskException.Refused> { desk.savePerson(bad, emptyList()) }
            assertEquals("national_id.length", ex.code)
            assertEquals("national_id", ex.findings[0].field)
            assertTrue(ex.findings[0].message.contains("12 digits expected, got 11"))

            // A warning refuses until confirmed, and the confirmation is kept.
            val male = bad.copy(nationalId = "022187001234", sex = "male")
            val warned = assertFailsWith<VaxdeskException.Refused> { desk.savePerson(male, emptyList()) }
            assertEquals(Severity.WARNING, warned.findings[0].severity)
            val p = desk.savePerson(male, listOf("national_id.sex_mismatch"))
            assertEquals("male", p.sex)

            assertFailsWith<VaxdeskException.NotSetUp> {
                desk.recordDose(DoseDraftInfo(p.id, "AZ", "L1", null, null, null, DoseOutcome.VACCINATED, null, null), listOf("lot.unknown"))
            }
            assertFailsWith<VaxdeskException.Input> { desk.person("not-a-uuid") }
            val refused = assertFailsWith<VaxdeskException.Sync> { desk.enroll("VXD1:nonsense", null) }
            assertEquals("sync.bad_code", refused.code)
            // A phone sends records over https only: a plain-http hub is refused before anything is sent.
            val plain = assertFailsWith<VaxdeskException.Sync> { desk.enroll("VXD1:{\"hub\":\"http://127.0.0.1:9\",\"code\":\"ABCD-EFGH-JKLM\"}", null) }
            assertEquals("sync.plain_http", plain.code)
            assertEquals(null, desk.pendingEnrollment())
        }
    }

    @Test fun aPassphraseEncryptsTheDatabase() {
        val path = File(dir, "secret.db").path
        Desk.open(path, "2468 bàn một").use { desk ->
            desk.savePerson(PersonDraftInfo(null, "022187001234", false, "Nguyễn Thị Hoa", "1987-05-02", "female", null, null, null, null, null, null, null, "manual"), listOf())
        }
        val bytes = File(path).readBytes()
        assertTrue(!String(bytes, Charsets.ISO_8859_1).contains("022187001234"), "no plaintext in the file")
        val wrong = assertFailsWith<VaxdeskException.Storage> { Desk.open(path, "1357") }
        assertEquals("storage.wrong_key", wrong.code)
        assertEquals("storage.needs_key", assertFailsWith<VaxdeskException.Storage> { Desk.open(path, null) }.code)
        changePassphrase(path, "2468 bàn một", "8642")
        Desk.open(path, "8642").use { desk -> assertEquals(1, desk.find("hoa", null, 0u).hits.size) }

        // The PIN's key, kept by the shell (wrapped by the keystore), opens it without the PIN.
        val key = databaseKey(path, "8642".toByteArray())
        assertEquals(32, key.size)
        Desk.openWithKey(path, key).use { desk -> assertEquals(1, desk.find("hoa", null, 0u).hits.size) }
        key[0] = (key[0].toInt() xor 1).toByte()
        assertEquals("storage.wrong_key", assertFailsWith<VaxdeskException.Storage> { Desk.openWithKey(path, key) }.code)
        assertEquals("key", assertFailsWith<VaxdeskException.Input> { Desk.openWithKey(path, ByteArray(16)) }.field)
    }

    @Test fun storageErrorsCarryTheirCode() {
        val garbage = File(dir, "garbage.db")
        garbage.writeBytes(ByteArray(4096) { 0x42 })
        val ex = assertFailsWith<VaxdeskException.Storage> { Desk.open(garbage.path, null) }
        assertEquals("storage.corrupt", ex.code)
    }

    @Test fun scannerDecodesAFrameInPlaceAndFromACopy() {
        val (pixels, w, h) = luma(render(HOA, dir))
        Scanner().use { s ->
            val copy = s.decodeCopy(pixels, w.toUInt(), h.toUInt(), w.toUInt())
            assertEquals(listOf("cccd"), copy.map { it.kind })
            assertEquals("Nguyễn Thị Hoa", copy[0].draft!!.fullName)
            // A camera plane: a direct buffer, rows padded to a wider stride.
            val stride = w + 64
            val plane = ByteBuffer.allocateDirect(stride * h)
            for (y in 0 until h) { plane.position(y * stride); plane.put(pixels, y * w, w) }
            plane.position(0)
            val direct = s.decode(plane, w.toUInt(), h.toUInt(), stride.toUInt())
            assertEquals(HOA, direct[0].text)
            assertFailsWith<VaxdeskException.Frame> { s.decodeCopy(ByteArray(10), 100u, 100u, 100u) }
        }
    }

    @Test fun eightThreadsSavingAtOnceEachLandsExactlyOnce() {
        Hub(dir).use { hub ->
            newDesk().use { desk ->
                desk.enroll(hub.enrollmentText(), null)
                desk.syncNow()
                desk.startSession("AZ", listOf("AZ2107"))
                val pool = Executors.newFixedThreadPool(8)
                val doses = java.util.concurrent.ConcurrentLinkedQueue<String>()
                val futures = (0 until 8).map { t ->
                    pool.submit {
                        for (i in 0 until 25) {
                            val id = "0220%02d%06d".format(90 + t, i)
                            val name = "Người Thử " + listOf("An", "Bình", "Chi", "Dũng", "Hà", "Lan", "Minh", "Nam")[t]
                            val draft = PersonDraftInfo(null, id, false, name, "19${90 + t}", "male", null, null, null, null, null, null, null, "manual")
                            val p = desk.savePerson(draft, emptyList())
                            doses.add(desk.recordDose(DoseDraftInfo(p.id, null, null, null, null, null, DoseOutcome.VACCINATED, null, null), emptyList()).id)
                        }
                    }
                }
                futures.forEach { it.get(120, TimeUnit.SECONDS) }
                pool.shutdown()
                assertEquals(200, doses.size)
                assertEquals(200, doses.toSet().size)
                assertEquals(200, desk.todaysDoses().size)
                assertEquals(400uL, desk.queue().pending)
                val sync = desk.syncNow()
                assertEquals(400uL, sync.accepted)
            }
        }
    }
}
