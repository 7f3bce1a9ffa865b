//! `RUN` scripts as shell: [`parse_script`] parses a script with a real POSIX/bash
//! parser (the `brush-parser` crate, the parser of the brush shell: maintained, covers
//! bash syntax including subshells, `if`/`case`/loops, functions, `&&`/`||` lists,
//! pipelines and here-documents) and flattens the syntax tree into the simple commands
//! the rules look at, in source order, remembering which of them form a pipeline.
//! Commands inside subshells, brace groups, `if`/`case` branches, loops and function
//! bodies all reach the rules; here-document bodies are data, except when fed to a
//! shell (`bash <<EOF`), and the script of `sh -c '...'` is parsed in turn. Command
//! substitutions (`$(...)`) stay inside their word, as before.
//!
//! [`commands`] is the previous, hand-written tokenizer. It stays as the fallback: a
//! script the parser refuses (or one nested too deeply to hand to a recursive parser)
//! is split with it and the caller gets a warning saying so, so the checks still run.
//! Scripts over [`MAX_SCRIPT`] bytes are checked on their first [`MAX_SCRIPT`] bytes
//! with a warning that the rest was not checked; nothing is cut silently.

use brush_parser::ast;

/// Longest script analysed; the rest is not checked and the caller is told so.
pub const MAX_SCRIPT: usize = 1024 * 1024;

/// Most openers (see [`openers`]) in a script handed to the parser. The parser is
/// recursive descent: its depth is bounded by the number of openers, so scripts with
/// more go to the iterative fallback tokenizer.
const MAX_OPENERS: usize = 256;

/// Most `case` keywords in a script handed to the parser: it backtracks over the last
/// item of a `case` without `;;`, doubling its work at each nested `case`.
const MAX_CASES: usize = 8;

/// Stack of the thread the parser runs on: [`MAX_OPENERS`] levels of its recursion
/// with a wide margin (a stack overflow aborts the process; a panic is only caught).
const PARSER_STACK: usize = 64 << 20;

/// Deepest `sh -c` / `bash <<EOF` recursion followed.
const MAX_INNER_SCRIPTS: usize = 4;

/// The commands of a script and, when it could not be analysed fully, why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    /// Simple commands in source order.
    pub commands: Vec<Command>,
    /// Set when the script was cut at [`MAX_SCRIPT`] or had to be split by the fallback
    /// tokenizer.
    pub warning: Option<String>,
}

/// Parses a `RUN` script as shell; see the module documentation.
pub fn parse_script(script: &str) -> Script {
    if script.len() > MAX_SCRIPT {
        let mut cut = MAX_SCRIPT;
        while !script.is_char_boundary(cut) {
            cut -= 1;
        }
        // A cut script rarely parses; the tokenizer copes with a partial one.
        return Script {
            commands: commands(&script[..cut]),
            warning: Some(format!(
                "RUN script of {} bytes exceeds the {MAX_SCRIPT}-byte analysis limit; only \
                 its first {cut} bytes were checked",
                script.len()
            )),
        };
    }
    match parse_shell(script, 0) {
        Ok((commands, warning)) => Script { commands, warning },
        Err(why) => Script {
            commands: commands(script),
            warning: Some(format!(
                "RUN script could not be parsed as shell ({why}); it was checked with the \
                 simpler fallback tokenizer, which may miss commands inside compound commands"
            )),
        },
    }
}

/// Counts, over the whole script, every construct at which the parser may recurse
/// (parentheses, brackets, braces other than `${`, `!`, and the compound-command
/// keywords, wherever they stand, glued to an operator or not), and the `case`
/// keywords among them. Never decremented, so no arrangement of closing tokens (a
/// `case` pattern's `)`, say) can hide depth.
fn openers(script: &str) -> (usize, usize) {
    let mut openers = 0usize;
    let mut prev = ' ';
    for c in script.chars() {
        match c {
            '(' | '[' | '!' => openers += 1,
            '{' if prev != '$' => openers += 1,
            _ => {}
        }
        prev = c;
    }
    let mut cases = 0usize;
    for w in script.split(|c: char| c.is_whitespace() || ";&|<>(){}".contains(c)) {
        match w {
            "if" | "while" | "until" | "for" | "select" | "coproc" | "function" => openers += 1,
            "case" => {
                openers += 1;
                cases += 1;
            }
            _ => {}
        }
    }
    (openers, cases)
}

/// The commands of `script` and, when a script it hands to a shell (`sh -c`, a heredoc
/// fed to `bash`) had to be split by the fallback tokenizer, a warning saying so.
fn parse_shell(script: &str, inner: usize) -> Result<(Vec<Command>, Option<String>), String> {
    let (openers, cases) = openers(script);
    if openers > MAX_OPENERS {
        return Err(format!(
            "{openers} nesting constructs, more than the {MAX_OPENERS} handed to the parser"
        ));
    }
    if cases > MAX_CASES {
        return Err(format!(
            "{cases} case statements, more than the {MAX_CASES} handed to the parser"
        ));
    }
    // On a thread with a known, large stack: the parser recurses, and the walker's
    // threads have the default 2 MiB.
    let parsed = std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("bulwark-sh-parse".into())
            .stack_size(PARSER_STACK)
            .spawn_scoped(scope, || {
                let opts = brush_parser::ParserOptions::default();
                let mut parser =
                    brush_parser::Parser::new(std::io::Cursor::new(script.as_bytes()), &opts);
                parser.parse_program().map_err(|e| e.to_string())
            });
        match spawned {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|_| Err("the shell parser failed".to_string())),
            Err(e) => Err(format!("cannot start the shell parser: {e}")),
        }
    });
    let program = parsed?;
    let mut w = Walker {
        out: Vec::new(),
        next: 0,
        current: 0,
        inner,
        warning: None,
    };
    for cc in &program.complete_commands {
        w.compound_list(cc);
    }
    Ok((w.out, w.warning))
}

struct Walker {
    out: Vec<Command>,
    /// Next pipeline number.
    next: usize,
    /// Number of the pipeline being walked.
    current: usize,
    inner: usize,
    /// Set when an inner script fell back to the tokenizer (the first such reason).
    warning: Option<String>,
}

impl Walker {
    fn compound_list(&mut self, list: &ast::CompoundList) {
        for ast::CompoundListItem(and_or, _) in &list.0 {
            self.pipeline(&and_or.first);
            for next in &and_or.additional {
                match next {
                    ast::AndOr::And(p) | ast::AndOr::Or(p) => self.pipeline(p),
                }
            }
        }
    }

    fn pipeline(&mut self, p: &ast::Pipeline) {
        let id = self.next;
        self.next += 1;
        let saved = std::mem::replace(&mut self.current, id);
        let last = p.seq.len().saturating_sub(1);
        for (i, cmd) in p.seq.iter().enumerate() {
            let start = self.out.len();
            self.command(cmd);
            if last > 0 {
                // Everything an element of a real pipeline runs shares the pipeline;
                // all but the last element write into the next one.
                for c in self.out.get_mut(start..).unwrap_or_default() {
                    c.pipeline = id;
                    c.piped_out |= i < last;
                }
            }
        }
        self.current = saved;
    }

    fn command(&mut self, cmd: &ast::Command) {
        match cmd {
            ast::Command::Simple(sc) => self.simple(sc),
            ast::Command::Compound(cc, _) => self.compound(cc),
            ast::Command::Function(f) => self.compound(&f.body.0),
            ast::Command::ExtendedTest(..) => {}
        }
    }

    fn compound(&mut self, cc: &ast::CompoundCommand) {
        match cc {
            ast::CompoundCommand::BraceGroup(b) => self.compound_list(&b.list),
            ast::CompoundCommand::Subshell(s) => self.compound_list(&s.list),
            ast::CompoundCommand::ForClause(f) => self.compound_list(&f.body.list),
            ast::CompoundCommand::ArithmeticForClause(f) => self.compound_list(&f.body.list),
            ast::CompoundCommand::CaseClause(c) => {
                for item in &c.cases {
                    if let Some(list) = &item.cmd {
                        self.compound_list(list);
                    }
                }
            }
            ast::CompoundCommand::IfClause(i) => {
                self.compound_list(&i.condition);
                self.compound_list(&i.then);
                for e in i.elses.iter().flatten() {
                    if let Some(c) = &e.condition {
                        self.compound_list(c);
                    }
                    self.compound_list(&e.body);
                }
            }
            ast::CompoundCommand::WhileClause(w) | ast::CompoundCommand::UntilClause(w) => {
                self.compound_list(&w.0);
                self.compound_list(&w.1.list);
            }
            ast::CompoundCommand::Coprocess(c) => self.command(&c.body),
            ast::CompoundCommand::Arithmetic(a) => {
                // brush reads nested subshells, `( ( cmd ) )`, as the arithmetic command
                // `(( cmd ))`; bash runs them as commands when the text is not
                // arithmetic. Walk the text as a script when it parses as one (real
                // arithmetic such as `i++` names no command a rule looks at).
                if self.inner < MAX_INNER_SCRIPTS {
                    if let Ok((cmds, warning)) = parse_shell(&a.expr.value, self.inner + 1) {
                        self.splice(cmds, self.inner > 0);
                        self.warn(warning);
                    }
                }
            }
        }
    }

    fn simple(&mut self, sc: &ast::SimpleCommand) {
        let mut words = Vec::new();
        let mut heredocs = Vec::new();
        let mut item = |i: &ast::CommandPrefixOrSuffixItem, words: &mut Vec<String>| match i {
            ast::CommandPrefixOrSuffixItem::Word(w) => words.push(unquote(&w.value)),
            ast::CommandPrefixOrSuffixItem::AssignmentWord(_, w) => words.push(unquote(&w.value)),
            ast::CommandPrefixOrSuffixItem::IoRedirect(ast::IoRedirect::HereDocument(_, h)) => {
                heredocs.push(h.doc.value.clone());
            }
            ast::CommandPrefixOrSuffixItem::IoRedirect(_)
            | ast::CommandPrefixOrSuffixItem::ProcessSubstitution(..) => {}
        };
        for i in sc.prefix.iter().flat_map(|p| &p.0) {
            item(i, &mut words);
        }
        if let Some(w) = &sc.word_or_name {
            words.push(unquote(&w.value));
        }
        for i in sc.suffix.iter().flat_map(|p| &p.0) {
            item(i, &mut words);
        }
        if words.is_empty() {
            return;
        }
        let cmd = Command {
            words,
            pipeline: self.current,
            piped_out: false,
            inner: self.inner > 0,
        };
        // A script handed to a shell (`sh -c '...'`, `bash <<EOF`) runs too.
        let mut inner_scripts = Vec::new();
        if is_shell(cmd.name()) && self.inner < MAX_INNER_SCRIPTS {
            let args = cmd.args();
            if let Some(pos) = args.iter().position(|a| is_dash_c(a)) {
                if let Some(s) = args.get(pos + 1) {
                    inner_scripts.push(s.clone());
                }
            } else {
                inner_scripts.extend(heredocs);
            }
        }
        self.out.push(cmd);
        for s in inner_scripts {
            let cmds = match parse_shell(&s, self.inner + 1) {
                Ok((cmds, warning)) => {
                    self.warn(warning);
                    cmds
                }
                Err(why) => {
                    self.warn(Some(format!(
                        "a script the RUN hands to a shell could not be parsed as shell \
                         ({why}); it was checked with the simpler fallback tokenizer, which \
                         may miss commands inside compound commands"
                    )));
                    commands(&s)
                }
            };
            self.splice(cmds, true);
        }
    }

    /// Keeps the first warning.
    fn warn(&mut self, warning: Option<String>) {
        if self.warning.is_none() {
            self.warning = warning;
        }
    }

    /// Appends the commands of a script parsed on its own, its pipelines numbered apart
    /// from the ones walked so far.
    fn splice(&mut self, mut cmds: Vec<Command>, inner: bool) {
        let base = self.next;
        for c in &mut cmds {
            c.inner |= inner;
            c.pipeline += base;
            self.next = self.next.max(c.pipeline + 1);
        }
        self.out.extend(cmds);
    }
}

/// `sh`, `bash`, `ash`, `dash`, `zsh`, `ksh`.
pub fn is_shell(name: &str) -> bool {
    matches!(name, "sh" | "bash" | "ash" | "dash" | "zsh" | "ksh")
}

/// `-c`, or combined short options ending in `c` (`-ec`, `-xc`).
pub fn is_dash_c(a: &str) -> bool {
    a == "-c" || (a.starts_with('-') && !a.starts_with("--") && a.ends_with('c'))
}

/// Removes shell quoting from a word as written: `'...'` literally, `"..."` with the
/// backslash escapes that are special inside double quotes, `$'...'` with its common
/// escapes, and a backslash outside quotes escaping the next character. Expansions
/// (`$VAR`, `$(...)`) stay as written.
pub fn unquote(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut chars = word.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\n') | None => {}
                Some(n) => out.push(n),
            },
            '\'' => {
                for n in chars.by_ref() {
                    if n == '\'' {
                        break;
                    }
                    out.push(n);
                }
            }
            '$' if chars.peek() == Some(&'\'') => {
                chars.next();
                while let Some(n) = chars.next() {
                    match n {
                        '\'' => break,
                        '\\' => match chars.next() {
                            Some('n') => out.push('\n'),
                            Some('t') => out.push('\t'),
                            Some(m) => out.push(m),
                            None => {}
                        },
                        _ => out.push(n),
                    }
                }
            }
            '"' => {
                while let Some(n) = chars.next() {
                    match n {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some(m @ ('"' | '\\' | '$' | '`')) => out.push(m),
                            Some('\n') => {}
                            Some(m) => {
                                out.push('\\');
                                out.push(m);
                            }
                            None => {}
                        },
                        _ => out.push(n),
                    }
                }
            }
            _ => out.push(c),
        }
    }
    out
}

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
    /// True for commands of a script handed to a nested shell (`sh -c '...'`,
    /// `bash <<EOF`), which the RUN's own shell options (pipefail) do not govern.
    pub inner: bool,
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

/// Splits a shell script into commands with the fallback tokenizer (not a parser: it
/// splits at operators and parentheses, and skips control keywords at the start of a
/// command). Callers bound the input ([`parse_script`] cuts at [`MAX_SCRIPT`]).
pub fn commands(script: &str) -> Vec<Command> {
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
