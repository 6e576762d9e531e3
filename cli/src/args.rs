//! Command-line definitions only; the work is in `commands`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "vaxdesk", version, about = "Offline-first vaccination desk: records, validation, search, export")]
pub struct Cli {
    /// The desk database (default: in the user's data directory). Encrypted
    /// when VAXDESK_PASSPHRASE is set (see `vaxdesk passphrase`).
    #[arg(long, global = true, env = "VAXDESK_DB")]
    pub db: Option<PathBuf>,
    /// Machine-readable output: one JSON document (or line) per result.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the database if needed and name this desk.
    Init(InitArgs),
    /// Today's session: vaccine and lots given at this desk.
    #[command(subcommand)]
    Session(SessionCmd),
    /// Add, find and show persons.
    #[command(subcommand)]
    Person(PersonCmd),
    /// Record, correct and list doses.
    #[command(subcommand)]
    Dose(DoseCmd),
    /// Show or load the vaccine catalog.
    #[command(subcommand)]
    Catalog(CatalogCmd),
    /// QR payloads: parse the text of a scanned code.
    #[command(subcommand)]
    Qr(QrCmd),
    /// Events waiting for the hub, and those it refused.
    Queue,
    /// Run the hub (the sync server), or manage its coordinators. Here --db
    /// names the hub's database.
    Hub(HubArgs),
    /// Enroll this desk with a hub, from the coordinator's VXD1: code.
    Enroll {
        /// The text of the enrollment QR code.
        code: String,
        /// A name for this phone or computer, shown to coordinators.
        #[arg(long)]
        name: Option<String>,
        /// Accept a hub at a plain http:// address (a hub behind a TLS proxy
        /// seen from inside, or a test). Phones never do.
        #[arg(long)]
        allow_plain_http: bool,
    },
    /// Push saved records to the hub and pull the site's changes.
    Sync {
        /// One round, then exit (default: keep syncing every --every seconds).
        #[arg(long)]
        once: bool,
        /// Seconds between rounds.
        #[arg(long, default_value_t = 30)]
        every: u64,
    },
    /// What is waiting for the hub, what it refused, when it last synced.
    Status,
    /// Export doses for the national platform.
    #[command(subcommand)]
    Export(ExportCmd),
    /// Reports from the hub's database for the steering committee.
    #[command(subcommand)]
    Report(ReportCmd),
    /// Encrypt the desk database, or change its passphrase. An encrypted
    /// database is opened with VAXDESK_PASSPHRASE (or asked at a terminal).
    #[command(subcommand)]
    Passphrase(PassphraseCmd),
    /// Vaccination certificates (EU-DCC HC1:): fetch and draw, or verify.
    #[command(subcommand)]
    Cert(CertCmd),
    /// Measure speed on generated data.
    #[command(subcommand)]
    Bench(BenchCmd),
    /// A scripted clinic day on a temporary database, with a summary.
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
pub struct HubArgs {
    #[command(subcommand)]
    pub admin: Option<HubCmd>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// The URL desks reach the hub at (goes into enrollment codes and the
    /// /app page's QR code); default https://LISTEN (http:// with
    /// --plain-http). Set it to an address phones can reach.
    #[arg(long)]
    pub public_url: Option<String>,
    /// Serve plain HTTP instead of TLS (behind a proxy that terminates
    /// TLS, or for a test). Without it the hub serves https with a
    /// self-signed certificate whose fingerprint enrollment codes carry.
    #[arg(long)]
    pub plain_http: bool,
    /// Log-in attempts allowed a minute, per address and per username.
    #[arg(long, default_value_t = 10)]
    pub login_per_minute: u32,
    /// Enrollment attempts allowed a minute, per address (raise it to enroll
    /// a room of phones behind one NAT at once).
    #[arg(long, default_value_t = 20)]
    pub enroll_per_minute: u32,
    /// Where the hub keeps its certificate signing key and TLS identity
    /// (made at first start). Default: the directory of a SQLite --db; `hub-data` in the
    /// current directory for PostgreSQL.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Hand out this signed APK of the app at /app (a download page with a QR
    /// code, the file's size and SHA-256 and its signer's certificate).
    #[arg(long)]
    pub apk: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum HubCmd {
    /// Coordinator accounts.
    #[command(subcommand)]
    Admin(AdminCmd),
    /// Copy the SQLite hub database (--db) to a new file while the hub keeps
    /// serving (SQLite's online backup: one consistent instant). For a
    /// PostgreSQL hub use pg_dump -Fc.
    Backup {
        /// The backup file to write (must not exist).
        #[arg(long)]
        to: PathBuf,
    },
    /// Load a backup into the SQLite hub database (--db), after checking
    /// it is whole and not from a newer hub. Stop the hub first.
    Restore {
        /// The backup file to read.
        #[arg(long)]
        from: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCmd {
    /// Create a coordinator of every site (the first account).
    Create {
        /// The coordinator's log-in name.
        #[arg(long)]
        username: String,
        /// Read the password from this environment variable (default: ask).
        #[arg(long)]
        password_env: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Site code (e.g. QN-HL-01).
    #[arg(long)]
    pub site: String,
    /// Desk code within the site (e.g. D1).
    #[arg(long)]
    pub desk: String,
    /// Local UTC offset for dose times, e.g. +07:00 (default: Vietnam).
    #[arg(long, allow_hyphen_values = true)]
    pub utc_offset: Option<String>,
    /// Load sample lots (AZ-MAU-1 good for a year, AZ-MAU-HET expired, the
    /// same for every vaccine) to try the desk without a hub: the built-in
    /// catalog has no lots, and a dose needs one. Not real lots.
    #[arg(long)]
    pub sample_catalog: bool,
}

#[derive(Debug, Subcommand)]
pub enum SessionCmd {
    /// Start today's session.
    Start {
        /// Vaccine code given at this desk today (AZ, PF, MD, VC, ...; `vaxdesk catalog show`).
        #[arg(long)]
        vaccine: String,
        /// Lot number in use (repeat for several).
        #[arg(long = "lot")]
        lots: Vec<String>,
    },
    /// Show today's session.
    Show,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SexArg {
    #[value(alias = "nam", alias = "m")]
    Male,
    #[value(alias = "nu", alias = "nữ", alias = "f")]
    Female,
}

#[derive(Debug, Args)]
pub struct Confirm {
    /// Confirm a warning by its code (repeat for several).
    #[arg(long = "confirm", value_name = "CODE")]
    pub codes: Vec<String>,
    /// Confirm every warning without asking.
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Subcommand)]
pub enum PersonCmd {
    /// Add a person (or, with --qr, from the text of a CCCD or health QR).
    Add(Box<PersonAddArgs>),
    /// Find persons by name (no diacritics needed), national id or phone.
    Find {
        /// Words of the name in any order (prefixes do), a national id or a phone.
        query: Vec<String>,
        /// Only persons born this year.
        #[arg(long)]
        year: Option<i32>,
        /// Page of results, from 0.
        #[arg(long, default_value_t = 0)]
        page: u32,
        /// Results per page.
        #[arg(long, default_value_t = 20)]
        per_page: u32,
    },
    /// Show a person, their doses and the dose due.
    Show {
        /// Person: id (its first characters are enough), national id, or a
        /// name that finds one person.
        person: String,
    },
}

#[derive(Debug, Args)]
pub struct PersonAddArgs {
    /// Text of a scanned CCCD or PC-Covid QR code; fields given below override it.
    #[arg(long)]
    pub qr: Option<String>,
    /// Full name as on the card, with diacritics ("Nguyễn Thị Hoa").
    #[arg(long)]
    pub name: Option<String>,
    /// CCCD (12 digits) or CMND (9 or 12 digits).
    #[arg(long = "id")]
    pub national_id: Option<String>,
    /// The number is an old CMND even though it has 12 digits.
    #[arg(long)]
    pub cmnd: bool,
    /// YYYY-MM-DD, DD/MM/YYYY or YYYY.
    #[arg(long)]
    pub birth: Option<String>,
    /// Sex (nam / nu, male / female).
    #[arg(long, value_enum)]
    pub sex: Option<SexArg>,
    /// Mobile number (0912345678, +84912345678).
    #[arg(long)]
    pub phone: Option<String>,
    /// Health-insurance card number.
    #[arg(long)]
    pub insurance: Option<String>,
    /// Priority group of the vaccination plan (free text, e.g. "1" or "health-worker").
    #[arg(long)]
    pub priority_group: Option<String>,
    /// Address line (house, street, ward, district).
    #[arg(long)]
    pub address: Option<String>,
    /// Province code (2 digits, General Statistics Office).
    #[arg(long)]
    pub province: Option<String>,
    /// District code (3 digits).
    #[arg(long)]
    pub district: Option<String>,
    /// Ward code (5 digits).
    #[arg(long)]
    pub ward: Option<String>,
    #[command(flatten)]
    pub confirm: Confirm,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutcomeArg {
    Vaccinated,
    Deferred,
    Refused,
}

#[derive(Debug, Args)]
pub struct DoseFields {
    /// Vaccine code from the catalog, e.g. AZ, PF, MD, VC (`vaxdesk catalog
    /// show` lists them; default: today's session).
    #[arg(long)]
    pub vaccine: Option<String>,
    /// Lot number (default: the session's lot when it has one).
    #[arg(long)]
    pub lot: Option<String>,
    /// Expiry of a lot the catalog does not know (YYYY-MM-DD or DD/MM/YYYY).
    #[arg(long)]
    pub lot_expiry: Option<String>,
    /// When given: "YYYY-MM-DD HH:MM" or "DD/MM/YYYY HH:MM" in the desk's
    /// offset, a bare day when the time is unknown, or RFC 3339 (default: now).
    #[arg(long)]
    pub at: Option<String>,
    /// Dose number, when doses were given elsewhere (default: from the records).
    #[arg(long)]
    pub number: Option<u8>,
    /// What happened (default: vaccinated).
    #[arg(long, value_enum)]
    pub outcome: Option<OutcomeArg>,
    /// Free text stored with the dose (a reaction, why it was deferred).
    #[arg(long)]
    pub note: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DoseCmd {
    /// Record a dose (or a deferral / refusal) for a person.
    Record {
        /// Person: id (its first characters are enough), national id, or a
        /// name that finds one person.
        #[arg(long)]
        person: String,
        #[command(flatten)]
        fields: DoseFields,
        /// A dose given before this desk saw the person (another province,
        /// abroad, before vaxdesk), with the place if known: needs --vaccine
        /// and --at; only what is impossible is refused, never the schedule.
        #[arg(long, value_name = "PLACE", num_args = 0..=1, default_missing_value = "")]
        given_elsewhere: Option<String>,
        #[command(flatten)]
        confirm: Confirm,
    },
    /// Correct a dose record; fields not given keep their current value.
    Amend {
        /// Id of the dose record (or of an earlier correction of it).
        id: String,
        /// Why the record is corrected (kept with the correction).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        fields: DoseFields,
        #[command(flatten)]
        confirm: Confirm,
    },
    /// Void a dose record entered by mistake.
    Void {
        /// Id of the dose record (or of an earlier correction of it).
        id: String,
        /// Why the record is voided (kept with the void).
        #[arg(long)]
        reason: String,
    },
    /// Doses given on a day (default today) at this desk.
    List {
        /// The day (YYYY-MM-DD or DD/MM/YYYY; default today). Times print in the desk's offset.
        #[arg(long)]
        date: Option<String>,
        /// Every desk's doses that this device holds.
        #[arg(long)]
        all_desks: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CatalogCmd {
    /// Print the catalog in use.
    Show,
    /// Load a newer catalog from a JSON file.
    Load { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum QrCmd {
    /// Decode QR codes in image files (PNG, JPEG): one JSON line per file.
    Decode {
        /// Pictures to read.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Decode every image in folders that hold `<stem>.txt` expected texts,
    /// and report matches, wrong texts, misses and times per folder.
    ///
    /// "disputed": a picture whose expected text is known not to be what its
    /// code holds (ZXing's qrcode-2/13.png: "photograph" for "photography",
    /// proven in core/tests/qr_decode.rs), read as its code holds it.
    Bench {
        /// Folders of pictures, each beside its expected text.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// One JSON row per picture (file, texts read, milliseconds, step),
        /// every picture with or without an expected text: for
        /// scripts/qr-peers, which scores them against the frames' manifest.
        #[arg(long)]
        each: bool,
        /// Decode with the live camera's effort (the fast path only).
        #[arg(long)]
        quick: bool,
    },
    /// Make a seeded test bed of phone-like camera frames: CCCD, PC-Covid,
    /// HC1 and VXD1 codes on cards and screens, turned, tilted, blurred,
    /// noisy, JPEG-compressed; the conditions of each in manifest.json.
    Frames {
        /// The same seed makes the same frames.
        #[arg(long)]
        seed: u64,
        /// Frames of each size.
        #[arg(long, default_value_t = 500)]
        count: usize,
        /// Frame sizes, WIDTHxHEIGHT (repeat the flag for several).
        #[arg(long = "size", default_values_t = ["1280x720".to_string(), "1920x1080".to_string()])]
        sizes: Vec<String>,
        /// Folder for the frames and manifest.json.
        #[arg(long)]
        out: PathBuf,
    },
    /// Parse the text of a QR code into its fields. Exit 1 when the text is
    /// not a known code or has field errors.
    Parse {
        /// The code's text, or `-` to read it from standard input.
        text: String,
    },
    /// Render text as a QR code picture (PNG), as a phone camera would see
    /// it on a card: for tests and drills.
    Render {
        /// The text to encode.
        text: String,
        /// The PNG to write.
        #[arg(long)]
        out: PathBuf,
        /// Pixels per module.
        #[arg(long, default_value_t = 4)]
        module: u32,
        /// Picture width in pixels.
        #[arg(long, default_value_t = 640)]
        width: u32,
        /// Picture height in pixels.
        #[arg(long, default_value_t = 480)]
        height: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum PassphraseCmd {
    /// Encrypt a plain desk database (new passphrase from
    /// VAXDESK_NEW_PASSPHRASE, or asked twice).
    Set,
    /// Change the passphrase (current from VAXDESK_PASSPHRASE or asked; new
    /// from VAXDESK_NEW_PASSPHRASE or asked twice).
    Change,
}

/// Which doses to export, and from where.
#[derive(Debug, Args)]
pub struct ExportRange {
    /// First day (YYYY-MM-DD or DD/MM/YYYY, local date of the dose).
    #[arg(long)]
    pub from: String,
    /// Last day, inclusive.
    #[arg(long)]
    pub to: String,
    /// Only this site.
    #[arg(long)]
    pub site: Option<String>,
    /// Read the hub's database (a SQLite path or a postgres:// URL) instead
    /// of this desk's: every desk's doses, every site unless --site.
    #[arg(long, value_name = "PATH_OR_URL")]
    pub hub_db: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ExportCmd {
    /// The national platform's dose fields as CSV (UTF-8 with BOM).
    Csv {
        #[command(flatten)]
        range: ExportRange,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The same rows as an Excel workbook (written in constant memory).
    Xlsx {
        #[command(flatten)]
        range: ExportRange,
        /// The workbook to write (.xlsx).
        #[arg(long)]
        out: PathBuf,
    },
    /// FHIR R4: bulk data (Patient.ndjson and Immunization.ndjson in a
    /// directory), or with --bundle one Bundle of both in a file.
    Fhir {
        #[command(flatten)]
        range: ExportRange,
        /// The directory to write into (made if missing); the file with --bundle.
        #[arg(long)]
        out: PathBuf,
        /// One FHIR Bundle (type collection) in the --out file instead of two NDJSON files.
        #[arg(long)]
        bundle: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReportCmd {
    /// A day per site: doses by vaccine and dose number, deferrals,
    /// refusals, registered against served, certificates issued, each desk.
    Daily {
        /// The hub's database: a SQLite path or a postgres:// URL.
        #[arg(long, value_name = "PATH_OR_URL")]
        hub_db: String,
        /// The day (YYYY-MM-DD or DD/MM/YYYY; default: today in Vietnam).
        #[arg(long)]
        date: Option<String>,
        /// Only this site (default: every site).
        #[arg(long)]
        site: Option<String>,
        /// Also write the report as an XLSX workbook.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCmd {
    /// Dose save, name search, id lookup and history on a large store.
    Store(BenchStoreArgs),
    /// Push (batched vs one request per event), hub ingest, bytes per dose
    /// and a first pull, against an embedded hub on loopback.
    Sync(BenchSyncArgs),
    /// Many desks syncing at once against a hub process (TLS) behind the
    /// fault proxy: push latency, throughput, hub memory, nothing lost or
    /// doubled. Loopback only.
    Load(BenchLoadArgs),
    /// The congested site network drill: desks enroll through lost replies,
    /// push and pull through stream faults on the https hub while the hub is
    /// killed (kill -9) and restarted, one token rotates mid-way, a
    /// certificate is fetched; then the network heals. Prints enrolled /
    /// lost / doubled / stuck; fails unless all but enrolled are 0.
    Drill(BenchDrillArgs),
    /// A site's registration list of N rows through the hub's import (CSV,
    /// the platform's columns), then the same list again: time, rows per
    /// second and the process's peak memory, on SQLite and on PostgreSQL.
    Registrations(BenchRegistrationsArgs),
    /// The hub at a province's size or beyond: a campaign of N events over
    /// many sites ingested day by day, then the dashboard of the busiest
    /// site and day, a new desk's first pull of that site (https), an export
    /// of every dose, a registration list, and backup and restore. On SQLite,
    /// or on PostgreSQL with --postgres.
    Hub(BenchHubArgs),
}

#[derive(Debug, Args)]
pub struct BenchHubArgs {
    /// Events in the campaign (persons and their doses, every site).
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Vaccination sites; the first, the busiest, holds a tenth of the events.
    #[arg(long, default_value_t = 40)]
    pub sites: u32,
    /// Campaign days (from 15 July 2021); second doses come 28 days after
    /// the first, third doses 84 days after.
    #[arg(long, default_value_t = 100)]
    pub days: u32,
    /// Dashboard page loads timed.
    #[arg(long, default_value_t = 60)]
    pub samples: u32,
    /// Pushes in flight at once during the ingest, each from a desk of
    /// another site, as a province's desks push through the same hours
    /// (1: one at a time, the sites taking turns).
    #[arg(long, default_value_t = 4)]
    pub at_once: usize,
    /// Rows of the registration list imported at the end.
    #[arg(long, default_value_t = 100_000)]
    pub registrations: u64,
    /// Run the hub on PostgreSQL: a server URL (postgres://user@host:port);
    /// a fresh database is made on it (and dropped after, unless --keep).
    #[arg(long)]
    pub postgres: Option<String>,
    /// Where pg_dump and pg_restore are (default: PATH, then the newest
    /// /usr/lib/postgresql/*/bin).
    #[arg(long)]
    pub pg_bin: Option<PathBuf>,
    /// Work here (the SQLite hub, the new desk, backups) instead of a
    /// temporary directory; needs room for about three copies of the hub.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Keep the hub database (and the PostgreSQL database) after the run.
    #[arg(long)]
    pub keep: bool,
    /// Measure a campaign an earlier `--keep` run left (its hub.db file, or
    /// postgres://user@host:port/database) instead of ingesting one.
    #[arg(long)]
    pub reuse: Option<String>,
    /// What to measure after the ingest, comma-separated, of dashboard,
    /// pull, export, registrations, backup (default: all).
    #[arg(long, value_delimiter = ',')]
    pub measure: Vec<String>,
    /// The new desk's store in plain SQLite (default: encrypted under a
    /// PIN, as on a phone), to see what the encryption costs the pull.
    #[arg(long)]
    pub plain_desk: bool,
}

impl BenchHubArgs {
    pub fn wants(&self, what: &str) -> bool {
        self.measure.is_empty() || self.measure.iter().any(|m| m.trim() == what)
    }
}

#[derive(Debug, Args)]
pub struct BenchRegistrationsArgs {
    /// Rows in the list.
    #[arg(long, default_value_t = 100_000)]
    pub rows: u64,
    /// The first person of the generated list (another value, other persons).
    #[arg(long, default_value_t = 3_000_000)]
    pub first: u64,
    /// Also on PostgreSQL: a server URL (postgres://user@host:port); a
    /// fresh database is made on it.
    #[arg(long)]
    pub postgres: Option<String>,
}

#[derive(Debug, Args)]
pub struct BenchDrillArgs {
    /// Desks (phones) in the drill.
    #[arg(long, default_value_t = 3)]
    pub desks: u32,
    /// Doses each desk records (9 a person, with their persons).
    #[arg(long, default_value_t = 1000)]
    pub doses: u32,
    /// Times the hub process is killed with SIGKILL (and started again).
    #[arg(long, default_value_t = 10)]
    pub kills: u32,
    /// Seed of the faults and of the moments the hub is killed.
    #[arg(long, default_value_t = 2021)]
    pub seed: u64,
    /// Run the hub on PostgreSQL: a server URL; a fresh database is made on it.
    #[arg(long)]
    pub postgres: Option<String>,
}

#[derive(Debug, Args)]
pub struct BenchLoadArgs {
    /// Desks (phones) syncing.
    #[arg(long, default_value_t = 200)]
    pub desks: u32,
    /// Doses each desk records (with their persons).
    #[arg(long, default_value_t = 500)]
    pub doses: u32,
    /// Desks syncing at the same moment.
    #[arg(long, default_value_t = 50)]
    pub concurrent: u32,
    /// Events a push carries.
    #[arg(long, default_value_t = 50)]
    pub batch: usize,
    /// No fault proxy between desks and hub.
    #[arg(long)]
    pub no_faults: bool,
    /// Run the hub on PostgreSQL: a server URL (postgres://user@host:port);
    /// a fresh database is made on it. Default: SQLite.
    #[arg(long)]
    pub postgres: Option<String>,
    /// Keep going for this many seconds, each desk recording again once it
    /// is synced (the soak variant). 0: one pass.
    #[arg(long, default_value_t = 0)]
    pub soak_seconds: u64,
}

#[derive(Debug, Args)]
pub struct BenchSyncArgs {
    /// Events pushed by each desk.
    #[arg(long, default_value_t = 10_000)]
    pub events: u64,
    /// Events the hub ingests directly, for its rate.
    #[arg(long, default_value_t = 100_000)]
    pub ingest: u64,
    /// Events of the site a new desk pulls on its first sync.
    #[arg(long, default_value_t = 130_000)]
    pub pull: u64,
    /// Also measure hub ingest on PostgreSQL: a server URL
    /// (postgres://user@host:port); a fresh database is made on it.
    #[arg(long)]
    pub postgres: Option<String>,
}

#[derive(Debug, Args)]
pub struct BenchStoreArgs {
    /// Persons in the benchmark's database.
    #[arg(long, default_value_t = 1_000_000)]
    pub persons: u64,
    /// Doses in it.
    #[arg(long, default_value_t = 1_000_000)]
    pub doses: u64,
    /// Timed operations of each kind.
    #[arg(long, default_value_t = 2000)]
    pub samples: u32,
    /// Where to build the database (default: a temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Reuse a database built by an earlier run in --dir.
    #[arg(long)]
    pub reuse: bool,
    /// Also time N name searches of each style on a cold store: before each,
    /// the database's pages are dropped from the page cache
    /// (posix_fadvise DONTNEED) and the store is opened afresh, as after a
    /// restart. The baseline query (candidates ranked on `persons` rows) is
    /// timed the same way in the same run.
    #[arg(long, default_value_t = 0)]
    pub cold: u32,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo database here instead of a temporary directory.
    #[arg(long)]
    pub keep: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum CertCmd {
    /// Ask the hub for PERSON's certificate (id or national id; the series
    /// must be complete and synced) and draw its QR code to a PNG.
    Show {
        person: String,
        /// The picture to write (default cert-PERSON_ID.png).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a certificate, given as its HC1: text or a picture of its QR,
    /// against the signers this desk's catalog trusts. Exit 0 only when the
    /// signature is verified and it has not expired.
    Verify { input: String },
}
