// Reads "a<TAB>b" lines, prints the sign of Maven's
// ComparableVersion(a).compareTo(ComparableVersion(b)).
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import org.apache.maven.artifact.versioning.ComparableVersion;

public class MavenOracle {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        StringBuilder out = new StringBuilder();
        String line;
        while ((line = in.readLine()) != null) {
            int tab = line.indexOf('\t');
            int r = new ComparableVersion(line.substring(0, tab))
                    .compareTo(new ComparableVersion(line.substring(tab + 1)));
            out.append(Integer.signum(r)).append('\n');
        }
        System.out.print(out);
    }
}
