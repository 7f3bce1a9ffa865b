//! Parser tests: every syntax feature and the malformed inputs.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use bulwark_misconfig::dockerfile::parse;
use bulwark_misconfig::MisconfigError;

fn p(s: &str) -> bulwark_misconfig::dockerfile::Dockerfile {
    match parse("Dockerfile", s.as_bytes()) {
        Ok(d) => d,
        Err(e) => panic!("parse failed: {e}"),
    }
}

#[test]
fn directives_and_backtick_escape() {
    let d = p("# syntax=docker/dockerfile:1\n# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN dir `\n  c:\\\nWORKDIR C:\\app\n");
    assert_eq!(d.syntax.as_deref(), Some("docker/dockerfile:1"));
    assert_eq!(d.escape, '`');
    let run = &d.instructions[1];
    assert_eq!((run.start_line, run.end_line), (4, 5));
    assert_eq!(run.rest.trim(), "dir   c:\\");
    assert_eq!(d.instructions[2].words, ["C:\\app"]);
}

#[test]
fn directive_after_comment_is_a_comment() {
    let d = p("# hello\n# escape=`\nFROM a:1\nRUN x \\\n y\n");
    assert_eq!(d.escape, '\\');
    assert_eq!(d.instructions[1].end_line, 5);
}

#[test]
fn continuation_skips_comments_and_empty_lines() {
    let d = p("FROM a:1\nRUN apt-get install \\\n  # a comment\n\n  curl \\\n  git\nUSER 1000\n");
    let run = &d.instructions[1];
    assert_eq!((run.start_line, run.end_line), (2, 6));
    assert!(run.rest.contains("curl") && run.rest.contains("git"));
    assert!(!run.rest.contains("comment"));
    assert_eq!(d.instructions[2].start_line, 7);
    assert_eq!(d.warnings.len(), 1, "{:?}", d.warnings);
}

#[test]
fn heredocs() {
    let src = "FROM a:1\nRUN <<EOF\napt-get update\napt-get install -y x\nEOF\nCOPY <<-\"A\" /a <<'B' /b/\n\tone $X\n\tA\ntwo\nB\nRUN python3 <<PY\nprint('<<NOT')\nPY\nUSER 1\n";
    let d = p(src);
    let run = &d.instructions[1];
    assert_eq!((run.start_line, run.end_line), (2, 5));
    assert_eq!(run.heredocs[0].body, "apt-get update\napt-get install -y x");
    assert!(run
        .shell_script()
        .unwrap_or_default()
        .contains("apt-get install"));
    let copy = &d.instructions[2];
    assert_eq!(copy.heredocs.len(), 2);
    assert_eq!(copy.heredocs[0].name, "A");
    assert!(copy.heredocs[0].strip_tabs && !copy.heredocs[0].expand);
    assert_eq!(copy.heredocs[0].body, "one $X");
    assert_eq!(copy.heredocs[1].body, "two");
    assert_eq!(copy.end_line, 10);
    let py = &d.instructions[3];
    assert_eq!((py.start_line, py.end_line), (11, 13));
    // A heredoc fed to python is not shell script.
    assert!(!py.shell_script().unwrap_or_default().contains("print"));
    assert_eq!(d.instructions[4].keyword, "USER");
    assert_eq!(d.instructions[4].start_line, 14);
}

#[test]
fn exec_and_shell_forms() {
    let d = p(
        "FROM a:1\nCMD [\"nginx\", \"-g\", \"daemon off;\"]\nENTRYPOINT [bad json]\nRUN [\"a\"]\n",
    );
    assert_eq!(
        d.instructions[1].exec.as_deref(),
        Some(&["nginx".to_string(), "-g".into(), "daemon off;".into()][..])
    );
    assert!(
        d.instructions[2].exec.is_none(),
        "invalid JSON falls back to shell form"
    );
    assert_eq!(d.instructions[2].rest, "[bad json]");
    assert!(d.instructions[3].exec.is_some());
}

#[test]
fn substitution_and_arg_scoping() {
    let src = "ARG REG=docker.io\nARG TAG=3.19\nFROM ${REG}/alpine:${TAG:-x} AS base\nARG TAG\nENV A=1 B=${A:+set} C=${NOPE:-def} D=\\$A E='$A'\nWORKDIR /srv/$TAG\nFROM base AS next\nWORKDIR /x/$A/$REG\n";
    let d = p(src);
    assert_eq!(d.stages[0].base, "docker.io/alpine:3.19");
    assert_eq!(d.stages[0].name.as_deref(), Some("base"));
    let env = &d.instructions[4].words;
    assert_eq!(
        env,
        &["A=1", "B=", "C=def", "D=$A", "E=$A"],
        "ENV values see only earlier instructions"
    );
    assert_eq!(d.instructions[5].words, ["/srv/3.19"]);
    // `next` inherits ENV from `base` but a global ARG is not visible without re-declaring.
    assert_eq!(d.instructions[7].words, ["/x/1/"]);
}

#[test]
fn stages_flags_onbuild_and_case() {
    let src = "from --platform=$BUILDPLATFORM golang:1.22 as Builder\nrun --mount=type=cache,target=/root/.cache go build\nFROM scratch\ncopy --from=builder --chown=1:1 /out /out\nonbuild RUN echo hi\n";
    let d = p(src);
    assert_eq!(d.stages.len(), 2);
    assert_eq!(d.stages[0].name.as_deref(), Some("builder"));
    assert_eq!(d.stages[0].platform.as_deref(), Some("$BUILDPLATFORM"));
    assert_eq!(d.instructions[1].keyword, "RUN");
    assert_eq!(
        d.instructions[1].flag("mount"),
        Some("type=cache,target=/root/.cache")
    );
    assert_eq!(d.instructions[3].flag("from"), Some("builder"));
    assert_eq!(d.instructions[3].flag("chown"), Some("1:1"));
    let ob = d.instructions[4].onbuild.as_deref();
    assert_eq!(ob.map(|i| i.keyword.as_str()), Some("RUN"));
    assert_eq!(d.instructions[4].stage, Some(1));
}

#[test]
fn unterminated_heredoc_is_an_error_with_line() {
    let e = parse("dir/Dockerfile", b"FROM a:1\nRUN <<EOF\necho\n").err();
    match e {
        Some(MisconfigError::Invalid { path, line, .. }) => {
            assert_eq!(path, "dir/Dockerfile");
            assert_eq!(line, 2);
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn dangling_continuation_is_a_warning() {
    let d = p("FROM a:1\nRUN echo \\");
    assert_eq!(d.instructions.len(), 2);
    assert_eq!(d.warnings.len(), 1);
    assert_eq!(d.warnings[0].line, 2);
}

#[test]
fn binary_non_utf8_and_huge_inputs() {
    let bin = parse("x", b"FROM a\n\x00\x01\x02").err();
    assert!(
        matches!(bin, Some(MisconfigError::NotText { ref reason, .. }) if reason.contains("line 2")),
        "{bin:?}"
    );
    let latin1 = parse("x", b"FROM a:1\nLABEL a=\xe9t\xe9\n").err();
    assert!(
        matches!(latin1, Some(MisconfigError::NotText { ref reason, .. }) if reason.contains("line 2")),
        "{latin1:?}"
    );
    let huge = vec![b'#'; bulwark_misconfig::dockerfile::parser::MAX_SIZE + 1];
    assert!(matches!(
        parse("x", &huge),
        Err(MisconfigError::TooLarge { .. })
    ));
    let many = "RUN x\n".repeat(bulwark_misconfig::dockerfile::parser::MAX_INSTRUCTIONS + 1);
    let r = parse("x", format!("FROM a:1\n{many}").as_bytes());
    assert!(matches!(r, Err(MisconfigError::Invalid { .. })));
}

#[test]
fn crlf_and_bom() {
    let d = p("\u{feff}FROM a:1\r\nRUN echo \\\r\n  hi\r\nUSER 1\r\n");
    assert_eq!(d.instructions.len(), 3);
    assert_eq!(d.instructions[1].end_line, 3);
}
