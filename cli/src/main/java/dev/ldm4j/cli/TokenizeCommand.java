// ./ldm4j tokenize: the CLIP token ids of a prompt, as the text encoder receives them.
package dev.ldm4j.cli;

import dev.ldm4j.diffusion.tokenizer.ClipEncoding;
import dev.ldm4j.diffusion.tokenizer.ClipTokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

@Command(name = "tokenize", mixinStandardHelpOptions = true,
        description = "Print the CLIP token ids of a prompt as a JSON list (BOS, tokens, EOS, padding to 77).")
public final class TokenizeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--prompt", required = true, description = "The text to tokenize.")
    String prompt;

    @Option(names = "--tokenizer", paramLabel = "PATH",
            description = "A folder with vocab.json + merges.txt or tokenizer.json, a tokenizer.json file, or OpenAI's"
                    + " bpe_simple_vocab_16e6.txt.gz. Default: the tokenizer/ folder of --model.")
    Path tokenizer;

    @Option(names = "--model", paramLabel = "DIR", description = "A diffusers model folder whose tokenizer/ to use.")
    Path model;

    @Option(names = "--no-pad", description = "Print BOS, the tokens and EOS only, without truncation or padding.")
    boolean noPad;

    @Override
    public Integer call() {
        ClipTokenizer tok = load(tokenizer, model);
        if (noPad) {
            print(tok.tokenize(prompt));
            return 0;
        }
        ClipEncoding enc = tok.encode(prompt);
        if (enc.truncated()) {
            spec.commandLine().getErr().println("ldm4j: warning: the prompt is longer than 77 tokens; dropped: \"" + enc.droppedText() + "\"");
        }
        print(enc.ids());
        return 0;
    }

    private void print(int[] ids) {
        spec.commandLine().getOut().println(Arrays.stream(ids).mapToObj(Integer::toString).collect(Collectors.joining(", ", "[", "]")));
    }

    /** The tokenizer at tokenizer, else in model's tokenizer/ folder; a one-line error when there is none. */
    static ClipTokenizer load(Path tokenizer, Path model) {
        if (tokenizer != null) {
            return ClipTokenizer.load(tokenizer);
        }
        if (model != null && Files.isDirectory(model.resolve("tokenizer"))) {
            return ClipTokenizer.load(model.resolve("tokenizer"));
        }
        throw new Main.UserError("no tokenizer: pass --tokenizer PATH (a folder with vocab.json + merges.txt or tokenizer.json,"
                + " or bpe_simple_vocab_16e6.txt.gz)" + (model != null ? "; " + model + " has no tokenizer/ folder" : ""));
    }
}
