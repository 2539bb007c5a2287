"""`moonpalace completion bash|zsh|fish`: the script is printed, and bash really completes with it."""
import shutil
import subprocess


def complete_bash(moonpalace_bin, tmp_path, words):
    script = subprocess.run([moonpalace_bin, "completion", "bash"], capture_output=True, text=True, check=True).stdout
    path = tmp_path / "moonpalace.bash"
    path.write_text(script)
    fn = next(line.split()[-2] for line in script.splitlines() if line.startswith("complete ") and " -F " in line)
    line = " ".join(words)   # bash calls the function as: fn COMMAND CURRENT_WORD PREVIOUS_WORD
    probe = (f'source {path}\nCOMP_WORDS=({line})\nCOMP_CWORD={len(words) - 1}\nCOMP_LINE="{line}"\n'
             f'COMP_POINT=${{#COMP_LINE}}\n{fn} {words[0]} "{words[-1]}" "{words[-2]}"\n'
             f'printf "%s\\n" "${{COMPREPLY[@]}}"\n')
    out = subprocess.run(["bash", "--norc", "--noprofile", "-c", probe], capture_output=True, text=True, timeout=30,
                         env={"PATH": str(tmp_path.parent) + ":/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_bash_completes_commands_and_start_flags(moonpalace_bin, tmp_path):
    link = tmp_path.parent / "moonpalace"
    if not link.exists():
        link.symlink_to(moonpalace_bin)
    assert "start" in complete_bash(moonpalace_bin, tmp_path, ["moonpalace", "st"])
    commands = complete_bash(moonpalace_bin, tmp_path, ["moonpalace", ""])
    assert {"start", "list", "inspect", "completion"} <= set(commands)
    flags = complete_bash(moonpalace_bin, tmp_path, ["moonpalace", "start", "--"])
    for flag in ["--force-stream", "--detect-repeat", "--repeat-threshold", "--auto-cache", "--cache-ttl", "--key"]:
        assert flag in flags, flags


def test_zsh_and_fish_scripts(moonpalace_bin, tmp_path):
    for shell in ["zsh", "fish"]:
        out = subprocess.run([moonpalace_bin, "completion", shell], capture_output=True, text=True, check=True).stdout
        assert "force-stream" in out and "moonpalace" in out
        if shutil.which(shell):
            path = tmp_path / f"c.{shell}"
            path.write_text(out)
            check = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True)
            assert check.returncode == 0, check.stderr


def test_unknown_shell_is_a_clear_error(moonpalace_bin):
    r = subprocess.run([moonpalace_bin, "completion", "powershell"], capture_output=True, text=True)
    assert r.returncode != 0 and "bash, zsh or fish" in r.stderr
