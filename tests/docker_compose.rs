//! `docker/check-compose.sh` against the built `tributary` binary: the compose file's
//! commands, ports, brokers and producers agree with the CLI (no Docker engine needed).

use std::process::Command;

#[test]
fn compose_commands_and_ports_match_the_cli() -> anyhow::Result<()> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/docker/check-compose.sh");
    let output = Command::new("sh")
        .arg(script)
        .env("TRIBUTARY_BIN", env!("CARGO_BIN_EXE_tributary"))
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("all compose checks passed"), "{stdout}");
    assert_eq!(
        stdout.matches(" starts").count(),
        2,
        "both tributary services start: {stdout}"
    );
    Ok(())
}
