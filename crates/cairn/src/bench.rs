pub fn run(_c: BenchCommand) -> anyhow::Result<()> {
    Ok(())
}
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    Append,
}
