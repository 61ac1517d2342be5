//! `kiln run --qemu`: a model on an emulated Cortex-M, through the generic runner firmware.
//!
//! The runner's sources come with kiln ([`kit`]); the first run for a board builds them in
//! the cache directory with the machine's cargo (the ARM target must be installed), then
//! QEMU runs the firmware with the instruction-count plugin, the blob and the inputs handed
//! over through semihosting files, and the outputs read back.

mod fit;
mod kit;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub use fit::{fit, FitReport};
pub use kit::cache_dir;

/// An emulated board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Board {
    /// QEMU's `mps2-an386`: Cortex-M4F, 4 MiB of flash and 4 MiB of RAM.
    M4,
    /// QEMU's `lm3s6965evb`: Cortex-M3 (no FPU), 256 KiB of flash, 64 KiB of RAM.
    M3,
    /// QEMU's `microbit` (nRF51822): Cortex-M0 (ARMv6-M, no FPU), 256 KiB of flash, 16 KiB
    /// of RAM.
    M0,
}

impl Board {
    /// `m4`, `m3` or `m0` (or QEMU's machine name).
    pub fn parse(name: &str) -> Option<Board> {
        match name {
            "m4" | "mps2-an386" => Some(Board::M4),
            "m3" | "lm3s6965evb" => Some(Board::M3),
            "m0" | "microbit" => Some(Board::M0),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Board::M4 => "m4",
            Board::M3 => "m3",
            Board::M0 => "m0",
        }
    }

    pub fn machine(self) -> &'static str {
        match self {
            Board::M4 => "mps2-an386",
            Board::M3 => "lm3s6965evb",
            Board::M0 => "microbit",
        }
    }

    fn cpu(self) -> &'static str {
        match self {
            Board::M4 => "cortex-m4",
            Board::M3 => "cortex-m3",
            Board::M0 => "cortex-m0",
        }
    }

    /// The largest graph capacity (layers or nodes, `kiln::Fixed<N>`) its runner can hold,
    /// if RAM limits it: on the microbit's 16 KiB the graph and the prepared model are on
    /// the stack, next to the outputs and the arena (`firmware-examples/src/bin/runner.rs`).
    pub fn max_layers(self) -> Option<usize> {
        match self {
            Board::M4 | Board::M3 => None,
            Board::M0 => Some(16),
        }
    }

    /// The Rust target its firmware is built for.
    pub fn target(self) -> &'static str {
        match self {
            Board::M4 => "thumbv7em-none-eabihf",
            Board::M3 => "thumbv7m-none-eabi",
            Board::M0 => "thumbv6m-none-eabi",
        }
    }
}

/// Why a run did not happen or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A tool the run needs is missing; the message says how to install it.
    #[error("{0}")]
    Missing(String),
    /// The cache directory or the kit could not be written.
    #[error("{0}")]
    Setup(String),
    /// cargo could not build the runner or the plugin; the log file has the details.
    #[error("building {what} failed: {last_error} (full log: {})", log.display())]
    Build {
        what: &'static str,
        last_error: String,
        log: PathBuf,
    },
    /// The model is larger than the board's runner can hold.
    #[error("{0}")]
    TooLarge(String),
    /// The firmware reported an error (kiln refused the blob or the inputs).
    #[error("the runner on {board} says: {message}")]
    Runner {
        board: &'static str,
        message: String,
    },
    /// QEMU did not run, crashed, or the firmware did not finish.
    #[error("{0}")]
    Qemu(String),
    /// kiln refused the model or its training configuration on the host, before any build.
    #[error(transparent)]
    Kiln(#[from] kiln::Error),
}

/// What the runner firmware is built with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunnerBuild {
    /// kiln's cargo features (the model's op families, `kiln::ops::features`); `None`:
    /// every op family (one runner for every model, for batch runs).
    pub features: Option<Vec<&'static str>>,
    /// The graph capacity `N` of `kiln::Fixed<N>`; `None`: the board's default (128 on the
    /// m4, 16 on the m3, 8 on the m0).
    pub max_layers: Option<usize>,
    /// More kiln features (`fast-math`).
    pub extra: Vec<String>,
}

impl RunnerBuild {
    /// The runner for `graph`: its op families and its capacity, as its own firmware
    /// would be built from `kiln export --rust`.
    pub fn for_model<S: kiln::Storage>(graph: &kiln::Graph<'_, S>) -> RunnerBuild {
        RunnerBuild {
            features: Some(kiln::ops::features(graph).to_vec()),
            max_layers: Some(graph.all_layers().len().max(graph.nodes().len()).max(1)),
            extra: Vec::new(),
        }
    }

    /// One runner for any model: every op family, the board's default capacity.
    pub fn all_ops() -> RunnerBuild {
        RunnerBuild {
            features: None,
            max_layers: None,
            extra: Vec::new(),
        }
    }

    /// The cargo `--features` value.
    fn cargo_features(&self) -> String {
        let families: Vec<&str> = match &self.features {
            None => vec!["all-ops"],
            Some(f) => f.clone(),
        };
        let all = families
            .into_iter()
            .chain(self.extra.iter().map(String::as_str));
        all.map(|f| format!("kiln/{f}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// A name for the cached firmware.
    fn key(&self, board: Board) -> String {
        let features = match &self.features {
            None => "all-ops".to_string(),
            Some(f) if f.is_empty() => "none".to_string(),
            Some(f) => f.join("+"),
        };
        let n = self
            .max_layers
            .map_or("default".to_string(), |n| n.to_string());
        let extra: String = self.extra.iter().map(|f| format!("+{f}")).collect();
        format!("{}-{features}{extra}-n{n}", board.name())
    }
}

/// Values of a model input or output: float32, or an int8 model's int8.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    F32(Vec<f32>),
    I8(Vec<i8>),
}

impl Values {
    /// The float32 values, if these are.
    pub fn as_f32(&self) -> Option<&[f32]> {
        match self {
            Values::F32(v) => Some(v),
            Values::I8(_) => None,
        }
    }

    /// The int8 values, if these are.
    pub fn as_i8(&self) -> Option<&[i8]> {
        match self {
            Values::I8(v) => Some(v),
            Values::F32(_) => None,
        }
    }

    fn to_le_bytes(&self) -> Vec<u8> {
        match self {
            Values::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Values::I8(v) => v.iter().map(|&x| x as u8).collect(),
        }
    }
}

/// One model input for the runner: its values and the shape (batch first) they have.
pub struct RunInput {
    pub data: Values,
    pub shape: Vec<usize>,
}

/// One model output: its shape (batch first) and values.
pub type RunOutput = (Vec<usize>, Values);

/// What a run gave back.
pub struct RunReport {
    /// Everything the firmware printed.
    pub log: String,
    pub outputs: Vec<RunOutput>,
    /// Guest instructions of `prepare` (the runner's first marked region).
    pub prepare_instructions: u64,
    /// Guest instructions of one `predict` (the second).
    pub predict_instructions: u64,
    /// Bytes of flash the runner program takes (`.vector_table`, `.text`, `.rodata`,
    /// `.data`), the blob not included.
    pub runner_flash: u64,
    /// kiln's code for this model: the runner's `.text` minus the `.text` of the same
    /// runner built with no kiln call (feature `baseline`).
    pub engine_text: u64,
    /// The stack `prepare` and `predict` used together, as the runner measured it.
    pub engine_stack: u64,
}

/// Runs `blob` on `board` with `inputs`, on a runner built as `build` says.
pub fn run(
    board: Board,
    build: &RunnerBuild,
    blob: &[u8],
    inputs: &[RunInput],
) -> Result<RunReport, RunError> {
    if let (Some(limit), Some(n)) = (board.max_layers(), build.max_layers) {
        if n > limit {
            return Err(RunError::TooLarge(format!(
                "the model has {n} layers or nodes, the runner on {} ({}) holds at most {limit} in its RAM",
                board.name(),
                board.machine()
            )));
        }
    }
    let setup = Setup::new(board)?;
    let elf = setup.build(&Firmware::runner(board, Some(build)))?;
    let baseline = setup.build(&Firmware::runner(board, None))?;
    let sizes = elf_facts(&elf)?;
    let base = elf_facts(&baseline)?;
    let runner_flash = sizes.flash;
    let engine_text = sizes.text.saturating_sub(base.text);

    let work = tempdir(&setup.cache)?;
    let write = |name: &str, bytes: &[u8]| work.write(name, bytes);
    write("model.kiln", blob)?;
    let mut args = vec!["model.kiln".to_string(), "y.bin".to_string()];
    for (i, input) in inputs.iter().enumerate() {
        let name = format!("x{i}.bin");
        write(&name, &input.data.to_le_bytes())?;
        let shape: Vec<String> = input.shape.iter().map(ToString::to_string).collect();
        args.push(format!("{name}:{}", shape.join("x")));
    }
    let (log, regions) = setup.run(&elf, &sizes, &work, &args, "kiln-runner")?;
    let region = |n: usize| -> Result<u64, RunError> {
        regions.get(n - 1).copied().ok_or_else(|| {
            RunError::Qemu(format!(
                "the instruction-count plugin counted no region {n}"
            ))
        })
    };
    let (prepare_instructions, predict_instructions) = (region(1)?, region(2)?);
    let outputs = read_outputs(&log, &work.0.join("y.bin"))?;
    let engine_stack = log
        .lines()
        .find_map(|l| {
            l.strip_prefix("kiln-runner: prepare and predict used ")?
                .strip_suffix(" bytes of stack")?
                .parse()
                .ok()
        })
        .ok_or_else(|| RunError::Qemu("the runner did not report its stack".into()))?;
    Ok(RunReport {
        log,
        outputs,
        prepare_instructions,
        predict_instructions,
        runner_flash,
        engine_text,
        engine_stack,
    })
}

/// The outputs the runner wrote to `y.bin`, cut by the shapes it printed.
fn read_outputs(log: &str, file: &Path) -> Result<Vec<RunOutput>, RunError> {
    let bytes = std::fs::read(file)
        .map_err(|e| RunError::Qemu(format!("the runner wrote no outputs ({e})")))?;
    let int8 = log.lines().any(|l| l == "kiln-runner: outputs are int8");
    let size = if int8 { 1 } else { 4 };
    let mut outputs = Vec::new();
    let mut at = 0;
    for line in log.lines() {
        // "kiln-runner: output 0: shape (3, 10), 30 values"
        let Some(rest) = line.strip_prefix("kiln-runner: output ") else {
            continue;
        };
        let Some((shape, count)) = rest
            .split_once(": shape (")
            .and_then(|(_, r)| r.split_once("), "))
        else {
            continue;
        };
        let dims: Option<Vec<usize>> = shape
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| d.parse().ok())
            .collect();
        let count: Option<usize> = count.strip_suffix(" values").and_then(|c| c.parse().ok());
        let (Some(dims), Some(count)) = (dims, count) else {
            return Err(RunError::Qemu(format!(
                "cannot read the runner's line {line:?}"
            )));
        };
        let data = bytes.get(at..at + count * size).ok_or_else(|| {
            RunError::Qemu("the runner wrote fewer values than it printed".into())
        })?;
        let values = match int8 {
            true => Values::I8(data.iter().map(|&b| b as i8).collect()),
            false => Values::F32(
                data.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
        };
        outputs.push((dims, values));
        at += count * size;
    }
    Ok(outputs)
}

/// The installed QEMU's `(major, minor)`, or how to install it.
fn qemu_version() -> Result<(u32, u32), RunError> {
    let missing = || {
        RunError::Missing(
            "qemu-system-arm is not installed: install QEMU 6 or later with TCG plugins, e.g. `sudo apt-get install --no-install-recommends qemu-system-arm` (Debian 12: from bookworm-backports, `-t bookworm-backports`)".into(),
        )
    };
    let out = Command::new("qemu-system-arm")
        .arg("--version")
        .output()
        .map_err(|_| missing())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text
        .lines()
        .find_map(|l| l.strip_prefix("QEMU emulator version "))
        .and_then(|v| {
            let mut parts = v.split(|c: char| !c.is_ascii_digit());
            Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
        });
    version.ok_or_else(missing)
}

/// The plugin API a QEMU loads (it refuses a plugin of another generation).
fn plugin_api((major, minor): (u32, u32)) -> Result<&'static str, RunError> {
    Ok(match (major, minor) {
        (0..=5, _) => {
            return Err(RunError::Missing(format!(
                "QEMU {major}.{minor} is too old for kiln's instruction-count plugin: install QEMU 6 or later"
            )))
        }
        (6..=8, _) => "v1",
        (9, 0) => "v2",
        (9, 1) => "v3",
        (9, _) | (10, 0) => "v4",
        _ => "v5",
    })
}

/// The Rust target for `board` must be there before cargo is asked to build for it.
fn check_target(board: Board) -> Result<(), RunError> {
    let cargo = Command::new("cargo").arg("--version").output();
    if !cargo.is_ok_and(|o| o.status.success()) {
        return Err(RunError::Missing(
            "cargo is not installed: kiln run builds its runner firmware with it (install Rust with rustup: https://rustup.rs)".into(),
        ));
    }
    // Without rustup (a distribution's Rust), the build itself says what is missing.
    let Ok(installed) = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
    else {
        return Ok(());
    };
    let list = String::from_utf8_lossy(&installed.stdout);
    if installed.status.success() && !list.lines().any(|l| l.trim() == board.target()) {
        return Err(RunError::Missing(format!(
            "the Rust target {} ({}) is not installed: rustup target add {}",
            board.target(),
            board.machine(),
            board.target()
        )));
    }
    Ok(())
}

/// What a run needs before any firmware is built: QEMU and its plugin API, the Rust target,
/// the cache with the kit unpacked, the instruction-count plugin.
struct Setup {
    board: Board,
    cache: PathBuf,
    kit: PathBuf,
    plugin: PathBuf,
}

impl Setup {
    fn new(board: Board) -> Result<Setup, RunError> {
        let qemu = qemu_version()?;
        check_target(board)?;
        let cache = cache_dir()?;
        let kit = kit::unpack(&cache)?;
        let plugin = build_plugin(&kit, &cache, plugin_api(qemu)?)?;
        Ok(Setup {
            board,
            cache,
            kit,
            plugin,
        })
    }

    /// The firmware built as `firmware` says, from the cache when this kit already built it.
    fn build(&self, firmware: &Firmware) -> Result<PathBuf, RunError> {
        let (kit, cache, board) = (&self.kit, &self.cache, self.board);
        let key = &firmware.key;
        let kit_name = kit
            .file_name()
            .map_or("kit".into(), |n| n.to_string_lossy());
        let cached = cache.join("runners").join(format!("{kit_name}-{key}.elf"));
        if cached.exists() {
            return Ok(cached);
        }
        let mut args = vec![
            "build",
            "--release",
            "--bin",
            firmware.bin,
            "--no-default-features",
            "--target",
            board.target(),
        ];
        if !firmware.features.is_empty() {
            args.extend(["--features", &firmware.features]);
        }
        let target_dir = cache.join("target");
        cargo(
            firmware.what,
            kit.join("firmware-examples"),
            &args,
            &target_dir,
            cache,
            &firmware.env,
        )?;
        let built = target_dir
            .join(board.target())
            .join("release")
            .join(firmware.bin);
        let io = |e: std::io::Error, path: &Path| {
            RunError::Setup(format!("{}: cannot write: {e}", path.display()))
        };
        let dir = cache.join("runners");
        std::fs::create_dir_all(&dir).map_err(|e| io(e, &dir))?;
        // Copied beside, then renamed: a run that stops half-way leaves no half file.
        let partial = dir.join(format!("{key}.partial-{}", unique_suffix()));
        std::fs::copy(&built, &partial).map_err(|e| io(e, &partial))?;
        std::fs::rename(&partial, &cached).map_err(|e| io(e, &cached))?;
        Ok(cached)
    }

    /// Runs `elf` in `work` with the semihosting command line `args`, counting the
    /// instructions of its marked regions; returns what it printed and each region's
    /// count. A line `PREFIX: error: …` is the firmware's refusal.
    fn run(
        &self,
        elf: &Path,
        facts: &ElfFacts,
        work: &TempDir,
        args: &[String],
        prefix: &str,
    ) -> Result<(String, Vec<u64>), RunError> {
        let board = self.board;
        let count_file = work.0.join("count.txt");
        // Where the instructions go, block by block, and in which ELF (bench/profile.sh).
        let profile = match std::env::var("KILN_QEMU_PROFILE") {
            Ok(p) => {
                let _ = std::fs::write(format!("{p}.elf"), elf.as_os_str().as_encoded_bytes());
                format!(",profile={p}")
            }
            Err(_) => String::new(),
        };
        let mut command = Command::new("qemu-system-arm");
        command
            .current_dir(&work.0)
            .args([
                "-cpu",
                board.cpu(),
                "-machine",
                board.machine(),
                "-nographic",
            ])
            .args(["-semihosting-config", "enable=on,target=native"])
            .args(["-icount", "shift=0", "-plugin"])
            .arg(format!(
                "{},start={:#x},end={:#x},out={}{profile}",
                self.plugin.display(),
                facts.start,
                facts.end,
                count_file.display(),
            ))
            .arg("-kernel")
            .arg(elf)
            .args(["-append", &args.join(" ")]);
        let (status, log) = run_with_timeout(command, Duration::from_secs(300))?;
        let error = format!("{prefix}: error: ");
        if let Some(message) = log.lines().find_map(|l| l.strip_prefix(error.as_str())) {
            return Err(RunError::Runner {
                board: board.name(),
                message: message.to_string(),
            });
        }
        if !status.success() {
            let last = log.lines().last().unwrap_or("no output");
            return Err(RunError::Qemu(format!(
                "the runner on {} did not finish ({status}); it last printed: {last}",
                board.name()
            )));
        }
        let counted = std::fs::read_to_string(&count_file).unwrap_or_default();
        let regions = counted
            .lines()
            .filter_map(|l| {
                let (_, count) = l
                    .strip_prefix("kiln-insn-count: region ")?
                    .split_once(": ")?;
                count.strip_suffix(" instructions")?.parse().ok()
            })
            .collect();
        Ok((log, regions))
    }
}

/// A firmware binary of the kit and how it is built.
struct Firmware {
    /// What it is, for a build error.
    what: &'static str,
    /// The cargo binary.
    bin: &'static str,
    /// Its name in the cache.
    key: String,
    /// The cargo `--features` value (with `--no-default-features`).
    features: String,
    /// Build-time environment (`KILN_RUNNER_MAX_LAYERS`, …); the others are removed.
    env: Vec<(&'static str, String)>,
}

impl Firmware {
    /// The runner for `board` built as `build` says (`None`: the baseline, with no kiln
    /// call).
    fn runner(board: Board, build: Option<&RunnerBuild>) -> Firmware {
        let key = match build {
            Some(build) => build.key(board),
            None => format!("{}-baseline", board.name()),
        };
        let features = build.map_or("baseline".to_string(), RunnerBuild::cargo_features);
        let env = build
            .and_then(|b| b.max_layers)
            .map(|n| ("KILN_RUNNER_MAX_LAYERS", n.to_string()))
            .into_iter()
            .collect();
        Firmware {
            what: "the runner firmware",
            bin: "runner",
            key,
            features,
            env,
        }
    }
}

/// Builds the instruction-count plugin for the plugin API `api`.
fn build_plugin(kit: &Path, cache: &Path, api: &str) -> Result<PathBuf, RunError> {
    let target_dir = cache.join("target-plugin").join(api);
    cargo(
        "the QEMU instruction-count plugin",
        kit.join("firmware-examples").join("insn-count-plugin"),
        &[
            "build",
            "--release",
            "--no-default-features",
            "--features",
            &format!("plugin-api-{api}"),
        ],
        &target_dir,
        cache,
        &[],
    )?;
    let host = host_triple()?;
    let name = format!(
        "{}kiln_insn_count{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    Ok(target_dir.join(host).join("release").join(name))
}

fn host_triple() -> Result<String, RunError> {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .map_err(|e| RunError::Missing(format!("rustc is not installed ({e})")))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_string)
        .ok_or_else(|| RunError::Missing("rustc -vV names no host".into()))
}

/// Runs cargo in `dir`; its output goes to a log file in the cache, and a failure names
/// its first error line.
fn cargo(
    what: &'static str,
    dir: PathBuf,
    args: &[&str],
    target_dir: &Path,
    cache: &Path,
    env: &[(&str, String)],
) -> Result<(), RunError> {
    let log = cache.join("build.log");
    let mut command = Command::new("cargo");
    // The firmware's build-time numbers: only what the caller gives reaches the build.
    for var in [
        "KILN_RUNNER_MAX_LAYERS",
        "KILN_TRAIN_ARENA_BYTES",
        "KILN_TRAIN_WEIGHT_BYTES",
    ] {
        command.env_remove(var);
    }
    for (var, value) in env {
        command.env(var, value);
    }
    let out = command
        .current_dir(&dir)
        .args(args)
        .env("CARGO_TARGET_DIR", target_dir)
        // The user's own settings for their projects must not reach this build.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| RunError::Missing(format!("cargo could not start: {e}")))?;
    let text = String::from_utf8_lossy(&out.stderr);
    let _ = std::fs::write(&log, text.as_bytes());
    if out.status.success() {
        return Ok(());
    }
    let last_error = text
        .lines()
        .find(|l| l.starts_with("error"))
        .unwrap_or("cargo failed")
        .to_string();
    Err(RunError::Build {
        what,
        last_error,
        log,
    })
}

/// What the runner's ELF tells: where the markers are, and its sizes.
struct ElfFacts {
    start: u64,
    end: u64,
    /// `.vector_table`, `.text`, `.rodata` and `.data`: what is flashed.
    flash: u64,
    text: u64,
    /// `.data` and `.bss`: the statics in RAM.
    statics: u64,
}

/// [`ElfFacts`] of the ELF file at `path`.
fn elf_facts(path: &Path) -> Result<ElfFacts, RunError> {
    let bytes = std::fs::read(path)
        .map_err(|e| RunError::Setup(format!("{}: cannot read: {e}", path.display())))?;
    markers_and_sizes(&bytes).ok_or_else(|| {
        RunError::Setup(format!(
            "{}: no kiln_marker_start/kiln_marker_end symbols",
            path.display()
        ))
    })
}

fn markers_and_sizes(elf: &[u8]) -> Option<ElfFacts> {
    use object::{Object, ObjectSection, ObjectSymbol};
    let file = object::File::parse(elf).ok()?;
    let address = |name: &str| {
        file.symbols()
            .find(|s| s.name() == Ok(name))
            // Thumb: the symbol's low bit marks the instruction set, not the address.
            .map(|s| s.address() & !1)
    };
    let size = |names: &[&str]| -> u64 {
        file.sections()
            .filter(|s| s.name().is_ok_and(|n| names.contains(&n)))
            .map(|s| s.size())
            .sum()
    };
    Some(ElfFacts {
        start: address("kiln_marker_start")?,
        end: address("kiln_marker_end")?,
        flash: size(&[".vector_table", ".text", ".rodata", ".data"]),
        text: size(&[".text"]),
        statics: size(&[".data", ".bss"]),
    })
}

/// A name no other call in any process uses at the same time: the process id and a count.
fn unique_suffix() -> String {
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{n}", std::process::id())
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    /// Writes one of the run's files.
    fn write(&self, name: &str, bytes: &[u8]) -> Result<(), RunError> {
        let path = self.0.join(name);
        std::fs::write(&path, bytes)
            .map_err(|e| RunError::Setup(format!("{}: cannot write: {e}", path.display())))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh directory for one run's files (QEMU's semihosting paths are relative to it).
fn tempdir(cache: &Path) -> Result<TempDir, RunError> {
    let runs = cache.join("runs");
    let mut n = 0u32;
    loop {
        let dir = runs.join(format!("{}-{n}", std::process::id()));
        match std::fs::create_dir_all(&runs).and_then(|()| std::fs::create_dir(&dir)) {
            Ok(()) => return Ok(TempDir(dir)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
            Err(e) => {
                return Err(RunError::Setup(format!(
                    "{}: cannot create: {e}",
                    dir.display()
                )))
            }
        }
    }
}

/// Runs QEMU with a time limit; returns its status and what it printed.
fn run_with_timeout(
    mut command: Command,
    limit: Duration,
) -> Result<(std::process::ExitStatus, String), RunError> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| RunError::Qemu(format!("qemu-system-arm could not start: {e}")))?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(RunError::Qemu(format!(
                    "the runner did not finish within {} s",
                    limit.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(RunError::Qemu(format!("waiting for qemu-system-arm: {e}"))),
        }
    };
    let log = out_reader.join().unwrap_or_default();
    let errors = err_reader.join().unwrap_or_default();
    if !status.success() && log.is_empty() {
        let first = errors.lines().next().unwrap_or("no output").to_string();
        return Err(RunError::Qemu(format!("qemu-system-arm failed: {first}")));
    }
    Ok((status, log))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cortex_m0_board_is_the_microbit_on_thumbv6m() {
        for name in ["m0", "microbit"] {
            assert_eq!(Board::parse(name), Some(Board::M0));
        }
        let m0 = Board::M0;
        assert_eq!(
            (m0.name(), m0.machine(), m0.cpu(), m0.target()),
            ("m0", "microbit", "cortex-m0", "thumbv6m-none-eabi")
        );
        assert_eq!(Board::parse("m0+"), None);
    }

    #[test]
    fn a_graph_over_the_m0_runners_capacity_is_refused_before_any_build() {
        let build = RunnerBuild {
            features: Some(vec!["dense"]),
            max_layers: Some(17),
            extra: Vec::new(),
        };
        // No QEMU, cargo or cache is looked at: the error comes first.
        let err = run(Board::M0, &build, &[], &[]).err().expect("refused");
        assert!(matches!(err, RunError::TooLarge(_)), "{err}");
        assert_eq!(
            err.to_string(),
            "the model has 17 layers or nodes, the runner on m0 (microbit) holds at most 16 in its RAM"
        );
        assert_eq!(Board::M0.max_layers(), Some(16));
        assert_eq!(Board::M3.max_layers(), None);
    }
}
