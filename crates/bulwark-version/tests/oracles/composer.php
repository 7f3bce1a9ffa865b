<?php
// Reads "a<TAB>b" lines, normalises both with Composer's VersionParser and
// prints -1/0/1 from Composer\Semver\Comparator, E when either fails to
// normalise, N when Composer finds them incomparable (two dev branches).
require '/usr/share/php/Composer/Semver/autoload.php';
use Composer\Semver\Comparator;
use Composer\Semver\VersionParser;

$p = new VersionParser();
$out = [];
while (($line = fgets(STDIN)) !== false) {
    [$a, $b] = explode("\t", rtrim($line, "\n"));
    try {
        $na = $p->normalize($a);
        $nb = $p->normalize($b);
    } catch (\UnexpectedValueException $e) {
        $out[] = 'E';
        continue;
    }
    if (Comparator::lessThan($na, $nb)) {
        $out[] = '-1';
    } elseif (Comparator::equalTo($na, $nb)) {
        $out[] = '0';
    } elseif (Comparator::greaterThan($na, $nb)) {
        $out[] = '1';
    } else {
        $out[] = 'N';
    }
}
echo implode("\n", $out), "\n";
