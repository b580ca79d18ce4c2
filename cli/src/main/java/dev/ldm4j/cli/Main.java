// The ./ldm4j command: picocli subcommands, and the one place where failures become one-line
// messages with a non-zero exit status (1 for bad input or a failed run, 2 for bad usage).
package dev.ldm4j.cli;

import dev.ldm4j.diffusion.model.MissingTokenizerException;
import dev.ldm4j.diffusion.model.ModelException;
import dev.ldm4j.diffusion.pipeline.NoDenoisingStepException;
import dev.ldm4j.diffusion.pipeline.UnsupportedRequestException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;

@Command(name = "ldm4j",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Stable Diffusion 1.x and 2.x in pure Java: text-to-image and image-to-image from a"
                + " .safetensors checkpoint or a diffusers model folder.",
        subcommands = {GenerateCommand.class, TrainCommand.class, DistillCommand.class, EvalCommand.class, ModelsCommand.class, ConvertCommand.class, InspectCommand.class, InfoCommand.class, TokenizeCommand.class, EmbedCommand.class, RandomWeightsCommand.class, CommandLine.HelpCommand.class},
        footer = {"", "Run 'ldm4j COMMAND --help' for the options of a command."})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(System.out, true);
        PrintWriter err = new PrintWriter(System.err, true);
        int status;
        try {
            status = run(args, out, err);
        } catch (Error e) {
            // picocli hands on Errors (out of memory above all) instead of reporting them.
            err.println(describe(e));
            if (System.getenv("LDM4J_DEBUG") != null) {
                e.printStackTrace(err);
            }
            status = 1;
        }
        System.exit(status);
    }

    /** Runs the command line and returns the exit status; messages go to out and err. */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        String garbled = undecodedArgument(args, System.getProperty("sun.jnu.encoding"));
        if (garbled != null) {
            err.println("ldm4j: error: " + garbled);
            return 1;
        }
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(out);
        cl.setErr(err);
        cl.setParameterExceptionHandler((ex, a) -> {
            err.println("ldm4j: " + oneLine(ex.getMessage()));
            err.println("Run '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help' for usage.");
            return 2;
        });
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            err.println(describe(ex));
            if (System.getenv("LDM4J_DEBUG") != null) {
                ex.printStackTrace(err);
            }
            return 1;
        });
        return cl.execute(args);
    }

    /** The one line a user sees for a failure. */
    static String describe(Throwable ex) {
        if (ex instanceof OutOfMemoryError) {
            return "ldm4j: error: out of Java heap memory; raise it with LDM4J_HEAP (e.g. LDM4J_HEAP=8g ./ldm4j ...)";
        }
        String withFlags = withFlags(ex);
        if (withFlags != null) {
            return "ldm4j: error: " + oneLine(withFlags);
        }
        if (ex instanceof UserError
                || ex instanceof IllegalArgumentException
                || ex instanceof java.io.UncheckedIOException
                || ex instanceof java.io.IOException
                || ex.getClass().getName().startsWith("dev.ldm4j.")) {
            return "ldm4j: error: " + oneLine(ex.getMessage());
        }
        return "ldm4j: internal error: " + ex.getClass().getSimpleName() + ": " + oneLine(ex.getMessage())
                + " (set LDM4J_DEBUG=1 for the stack trace, and please report it)";
    }

    /**
     * A typed error of diffusion said with the flags that fix it (diffusion names the problem; only the
     * command line knows its flags), or null for any other.
     */
    static String withFlags(Throwable ex) {
        return switch (ex) {
            case MissingTokenizerException e -> e.getMessage() + "; pass --tokenizer PATH, or --config DIR with a diffusers folder that has tokenizer/";
            case NoDenoisingStepException e -> e.getMessage() + "; raise --strength or --steps";
            case ModelException e when e.fix() == ModelException.Fix.CONFIG_FOLDER -> e.getMessage() + " (--config DIR)";
            case ModelException e when e.fix() == ModelException.Fix.NO_CONFIG_FOLDER -> e.getMessage() + "; leave out --config";
            case ModelException e when e.fix() == ModelException.Fix.LORA_FLAG -> e.getMessage() + " with --lora FILE[:SCALE]";
            case UnsupportedRequestException e when e.part() == UnsupportedRequestException.Part.KARRAS ->
                    "--karras needs --scheduler (e.g. --scheduler dpmpp_2m --karras)";
            case UnsupportedRequestException e when e.part() == UnsupportedRequestException.Part.INPAINTING_INPUTS ->
                    e.getMessage() + ": give --image FILE and --mask FILE (white = repaint)";
            default -> null;
        };
    }

    /**
     * The JVM decodes the command line with the locale's character set (sun.jnu.encoding); under an
     * ASCII locale such as C or POSIX every non-ASCII character arrives as U+FFFD. Returns the line
     * that says so and how to fix it, or null when the arguments arrived intact.
     */
    static String undecodedArgument(String[] args, String argumentEncoding) {
        if (argumentEncoding == null || isUtf8(argumentEncoding)) {
            return null;
        }
        for (String a : args) {
            if (a.indexOf('\uFFFD') >= 0) {
                String shown = a.replace('\uFFFD', '?');
                shown = shown.length() > 40 ? shown.substring(0, 40) + "..." : shown;
                return "the argument \"" + shown + "\" lost its non-ASCII characters: the locale's character set is "
                        + argumentEncoding + ", not UTF-8; run under a UTF-8 locale, e.g. LC_ALL=C.UTF-8 ./ldm4j ...";
            }
        }
        return null;
    }

    private static boolean isUtf8(String charsetName) {
        try {
            return java.nio.charset.Charset.forName(charsetName).equals(java.nio.charset.StandardCharsets.UTF_8);
        } catch (IllegalArgumentException unknown) {
            return false;
        }
    }

    static String oneLine(String s) {
        if (s == null) {
            return "(no message)";
        }
        String t = s.strip();
        int nl = t.indexOf('\n');
        return nl < 0 ? t : t.substring(0, nl).strip();
    }

    /** A failure caused by what the user asked for; its message is shown as it is. */
    public static final class UserError extends RuntimeException {
        public UserError(String message) {
            super(message);
        }
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[]{"ldm4j " + (v == null ? "(development build)" : v) + ", Java " + Runtime.version()};
        }
    }
}
