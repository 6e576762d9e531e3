// Shared by the Kotlin tests of the bindings and of the Android shell: a
// real hub process to enroll against, and QR pictures made by the CLI.
package org.vaxdesk.testkit

import java.io.File
import java.net.ServerSocket
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.util.concurrent.TimeUnit

/** The `vaxdesk` binary built beside the library (path from the test script). */
val VAXDESK: String = System.getProperty("vaxdesk.bin") ?: "target/debug/vaxdesk"

const val HOA = "022187001234|100234567|Nguyễn Thị Hoa|02051987|Nữ|Hạ Long, Quảng Ninh|15042021"

/**
 * A hub process on a free loopback port, serving https with the self-signed
 * certificate it makes at first start (as `vaxdesk hub` does by default),
 * with a coordinator's set-up done over HTTPS. The coordinator's client here
 * trusts exactly that certificate; the desk, through the core, pins it from
 * the enrollment code.
 */
class Hub(private val dir: File) : AutoCloseable {
    val port = ServerSocket(0).use { it.localPort }
    val url = "https://127.0.0.1:$port"
    private val db = File(dir, "hub.db").path
    private val process: Process
    private lateinit var http: HttpClient
    private var token = ""

    init {
        val admin = ProcessBuilder(VAXDESK, "--db", db, "hub", "admin", "create", "--username", "admin", "--password-env", "HUB_PW")
        admin.environment()["HUB_PW"] = "correct horse battery"
        check(admin.redirectErrorStream(true).start().waitFor() == 0) { "admin create failed" }
        process = ProcessBuilder(VAXDESK, "--db", db, "hub", "--listen", "127.0.0.1:$port").redirectErrorStream(true).redirectOutput(File(dir, "hub.log")).start()
        val deadline = System.currentTimeMillis() + 10_000
        while (true) {
            try { java.net.Socket("127.0.0.1", port).close(); break } catch (e: Exception) {
                check(System.currentTimeMillis() < deadline) { "hub did not start" }
                Thread.sleep(20)
            }
        }
        http = HttpClient.newBuilder().sslContext(trusting(File(dir, "hub-tls.cert.der"))).build()
        token = Regex("\"token\":\"([0-9a-f]+)\"").find(call("POST", "/login", """{"username":"admin","password":"correct horse battery"}"""))!!.groupValues[1]
        call("PUT", "/sites", """{"code":"QN-01","name":"Trạm y tế Hồng Hải"}""")
        call("PUT", "/sites/QN-01/desks", """{"code":"D1","name":"Bàn 1"}""")
        call("POST", "/lots", """{"number":"AZ2107","vaccine":"AZ","expiry":"2099-01-31"}""")
    }

    fun call(method: String, path: String, body: String): String {
        val req = HttpRequest.newBuilder(URI.create("$url/api/v1$path"))
            .header("content-type", "application/json")
            .header("authorization", "Bearer $token")
            .method(method, HttpRequest.BodyPublishers.ofString(body)).build()
        val resp = http.send(req, HttpResponse.BodyHandlers.ofString())
        check(resp.statusCode() in 200..299) { "$method $path: ${resp.statusCode()} ${resp.body()}" }
        return resp.body()
    }

    /** A file as the request body (a site's registration list, say), as a coordinator's script sends it. */
    fun upload(path: String, contentType: String, body: ByteArray): String {
        val req = HttpRequest.newBuilder(URI.create("$url/api/v1$path"))
            .header("content-type", contentType)
            .header("authorization", "Bearer $token")
            .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build()
        val resp = http.send(req, HttpResponse.BodyHandlers.ofString())
        check(resp.statusCode() in 200..299) { "POST $path: ${resp.statusCode()} ${resp.body()}" }
        return resp.body()
    }

    /** The VXD1: text the coordinator's page shows. */
    fun enrollmentText(): String {
        val body = call("POST", "/sites/QN-01/desks/D1/enrollment-codes", "{}")
        val text = Regex("\"text\":\"((?:[^\"\\\\]|\\\\.)*)\"").find(body)!!.groupValues[1]
        return text.replace("\\\"", "\"")
    }

    override fun close() {
        process.destroyForcibly().waitFor(5, TimeUnit.SECONDS)
    }
}

/** TLS that trusts this one certificate and nothing else. */
private fun trusting(cert: File): javax.net.ssl.SSLContext {
    val x509 = cert.inputStream().use { java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(it) }
    val keys = java.security.KeyStore.getInstance(java.security.KeyStore.getDefaultType()).apply {
        load(null, null)
        setCertificateEntry("hub", x509)
    }
    val trust = javax.net.ssl.TrustManagerFactory.getInstance(javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm()).apply { init(keys) }
    return javax.net.ssl.SSLContext.getInstance("TLS").apply { init(null, trust.trustManagers, null) }
}

fun render(text: String, dir: File, w: Int = 640, h: Int = 480): File {
    val f = File(dir, "code-${text.hashCode()}-$w.png")
    val p = ProcessBuilder(VAXDESK, "qr", "render", text, "--out", f.path, "--width", "$w", "--height", "$h").redirectErrorStream(true).start()
    check(p.waitFor() == 0) { p.inputStream.bufferedReader().readText() }
    return f
}
