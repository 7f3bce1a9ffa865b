//! A small POSIX-shell tokenizer for analysing `RUN` scripts: splits a script into simple
//! commands at `&&`, `||`, `;`, `|`, `&` and newlines, removes quotes and escapes,
//! skips comments and remembers which commands form a pipeline. It is not a shell
//! parser (no ShellCheck): command substitutions stay inside their word, and control
//! keywords (`if`, `then`, `do`, ...) are skipped at the start of a command so the
//! command after them is still seen.

/// Longest script analysed; the rest is ignored (Dockerfiles are capped anyway).
const MAX_SCRIPT: usize = 1024 * 1024;

/// One simple command.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Command {
    /// Words with quotes removed, leading assignments and wrappers (`sudo`, `env`)
    /// still present; use [`Command::name`] / [`Command::args`].
    pub words: Vec<String>,
    /// Pipeline number: commands joined by `|` share it.
    pub pipeline: usize,
    /// True when this command's output is piped into the next command.
    pub piped_out: bool,
}

const WRAPPERS: &[&str] = &[
    "sudo", "env", "exec", "nohup", "time", "command", "then", "do", "else", "if", "while",
    "until", "!", "{", "(", "elif",
];

impl Command {
    /// Index of the command name: after `VAR=x` assignments and wrappers.
    fn start(&self) -> usize {
        let mut i = 0;
        while let Some(w) = self.words.get(i) {
            let assignment = w.split_once('=').is_some_and(|(k, _)| {
                !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
            if assignment || WRAPPERS.contains(&w.as_str()) {
                i += 1;
                // `sudo -u user cmd`: skip sudo's options.
                if w == "sudo" {
                    while let Some(o) = self.words.get(i) {
                        if o == "-u" || o == "-g" {
                            i += 2;
                        } else if o.starts_with('-') {
                            i += 1;
                        } else {
                            break;
                        }
                    }
                }
                continue;
            }
            break;
        }
        i
    }

    /// The command name without its directory (`/usr/bin/apt-get` → `apt-get`).
    pub fn name(&self) -> &str {
        let w = self
            .words
            .get(self.start())
            .map(String::as_str)
            .unwrap_or("");
        w.rsplit('/').next().unwrap_or(w)
    }

    /// The arguments after the name.
    pub fn args(&self) -> &[String] {
        self.words.get(self.start() + 1..).unwrap_or(&[])
    }

    /// True when any word before the name is `sudo`.
    pub fn uses_sudo(&self) -> bool {
        self.words
            .iter()
            .take(self.start() + 1)
            .any(|w| w == "sudo")
    }

    /// Whether a flag is present: `short` letters may be combined (`-qy`), `long` are
    /// full words (`--yes`) also matched as `--yes=...`.
    pub fn has_flag(&self, short: &[char], long: &[&str]) -> bool {
        self.args().iter().any(|a| {
            if let Some(l) = a.strip_prefix("--") {
                let l = l.split('=').next().unwrap_or(l);
                long.iter().any(|x| x.trim_start_matches('-') == l)
            } else if let Some(s) = a.strip_prefix('-') {
                !s.is_empty()
                    && s.chars().all(|c| c.is_ascii_alphanumeric())
                    && s.chars().any(|c| short.contains(&c))
            } else {
                false
            }
        })
    }

    /// Non-option arguments, skipping the values of options listed in `with_value`
    /// (`-o X` for apt-get).
    pub fn operands(&self, with_value: &[&str]) -> Vec<&str> {
        let mut out = Vec::new();
        let mut skip = false;
        for a in self.args() {
            if skip {
                skip = false;
                continue;
            }
            if a.starts_with('-') {
                if with_value.contains(&a.as_str()) {
                    skip = true;
                }
                continue;
            }
            out.push(a.as_str());
        }
        out
    }

    /// The first operand (the subcommand of `apt-get install`).
    pub fn subcommand(&self, with_value: &[&str]) -> Option<&str> {
        self.operands(with_value).first().copied()
    }
}

/// Splits a shell script into commands.
pub fn commands(script: &str) -> Vec<Command> {
    let script = script.get(..MAX_SCRIPT).unwrap_or(script);
    let mut out = Vec::new();
    let mut cur = Command::default();
    let mut word = String::new();
    let mut in_word = false;
    let mut pipeline = 0usize;
    let mut chars = script.chars().peekable();
    // Depth of `$(`, backtick state: separators inside them do not split.
    let mut depth = 0u32;
    let mut backtick = false;

    fn end_word(cur: &mut Command, word: &mut String, in_word: &mut bool) {
        if *in_word {
            cur.words.push(std::mem::take(word));
            *in_word = false;
        }
    }
    fn end_cmd(out: &mut Vec<Command>, cur: &mut Command, pipeline: usize, piped: bool) {
        if !cur.words.is_empty() {
            cur.pipeline = pipeline;
            cur.piped_out = piped;
            out.push(std::mem::take(cur));
        }
    }

    while let Some(c) = chars.next() {
        if depth > 0 || backtick {
            word.push(c);
            match c {
                '(' if depth > 0 => depth += 1,
                ')' if depth > 0 => depth -= 1,
                '`' if backtick => backtick = false,
                _ => {}
            }
            continue;
        }
        match c {
            '\\' => match chars.next() {
                Some('\n') | None => {}
                Some(n) => {
                    word.push(n);
                    in_word = true;
                }
            },
            '\'' => {
                in_word = true;
                for n in chars.by_ref() {
                    if n == '\'' {
                        break;
                    }
                    word.push(n);
                }
            }
            '"' => {
                in_word = true;
                while let Some(n) = chars.next() {
                    match n {
                        '"' => break,
                        '\\' => {
                            if let Some(m) = chars.next() {
                                if !matches!(m, '"' | '\\' | '$' | '`' | '\n') {
                                    word.push('\\');
                                }
                                if m != '\n' {
                                    word.push(m);
                                }
                            }
                        }
                        _ => word.push(n),
                    }
                }
            }
            '$' if chars.peek() == Some(&'(') => {
                word.push('$');
                in_word = true;
                depth = 0;
                if let Some(p) = chars.next() {
                    word.push(p);
                    depth = 1;
                }
            }
            '`' => {
                word.push('`');
                in_word = true;
                backtick = true;
            }
            '#' if !in_word => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
                end_cmd(&mut out, &mut cur, pipeline, false);
                pipeline += 1;
            }
            '|' => {
                end_word(&mut cur, &mut word, &mut in_word);
                if chars.peek() == Some(&'|') {
                    chars.next();
                    end_cmd(&mut out, &mut cur, pipeline, false);
                    pipeline += 1;
                } else {
                    end_cmd(&mut out, &mut cur, pipeline, true);
                }
            }
            '&' | ';' | '\n' => {
                end_word(&mut cur, &mut word, &mut in_word);
                if c == '&' && chars.peek() == Some(&'&') {
                    chars.next();
                } else if c == '&' && chars.peek() == Some(&'>') {
                    // `&>file` redirection: not a separator.
                    word.push('&');
                    in_word = true;
                    continue;
                }
                end_cmd(&mut out, &mut cur, pipeline, false);
                pipeline += 1;
            }
            '(' | ')' if !in_word => {
                end_word(&mut cur, &mut word, &mut in_word);
                end_cmd(&mut out, &mut cur, pipeline, false);
                pipeline += 1;
            }
            c if c.is_whitespace() => end_word(&mut cur, &mut word, &mut in_word),
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    end_word(&mut cur, &mut word, &mut in_word);
    end_cmd(&mut out, &mut cur, pipeline, false);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_operators_and_quotes() {
        let c = commands("apt-get update && apt-get install -y 'a b' \"c\" ; cd /x || true");
        let names: Vec<&str> = c.iter().map(|c| c.name()).collect();
        assert_eq!(names, ["apt-get", "apt-get", "cd", "true"]);
        assert_eq!(c[1].args(), ["install", "-y", "a b", "c"]);
        assert!(c[1].has_flag(&['y'], &["yes"]));
    }

    #[test]
    fn pipelines_and_wrappers() {
        let c = commands(
            "curl -fsSL https://x | sudo -u me bash -s -- --x\nFOO=1 env B=2 pip install y",
        );
        assert!(c[0].piped_out);
        assert_eq!(c[0].pipeline, c[1].pipeline);
        assert_eq!(c[1].name(), "bash");
        assert!(c[1].uses_sudo());
        assert_eq!(c[2].name(), "pip");
        assert_ne!(c[1].pipeline, c[2].pipeline);
    }

    #[test]
    fn substitutions_stay_in_words_and_comments_skip() {
        let c = commands("echo $(a && b) `c; d` # cd x\nls");
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].args(), ["$(a && b)", "`c; d`"]);
        assert_eq!(c[1].name(), "ls");
    }
}
