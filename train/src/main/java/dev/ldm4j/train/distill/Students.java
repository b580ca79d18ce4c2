// The students' model folders: the teacher's text encoder, tokenizer and VAE unchanged, a student U-Net, and the
// scheduler config and ldm4j_defaults.json that make `./ldm4j generate --model OUT` sample the student as it was
// trained. The student U-Net is a copy of the teacher's when it has the teacher's architecture. A different
// architecture (a smaller network: fewer blocks or fewer channels, as BK-SDM, Kim et al. 2023) starts from
// PyTorch's default initialisation (ModelInit), and then every tensor whose name and shape are a teacher tensor's
// is copied from the teacher, as BK-SDM initialises its pruned U-Net from the blocks it keeps: a student that only
// drops blocks (e.g. the attention of one level) starts as the teacher without them; one with fewer channels shares
// no tensor and starts new. No weights are sliced. The consistency
// student adds time_cond_proj_dim: its new time_embedding.cond_proj weight starts at zero, so that the student
// starts as the teacher's conditional branch whatever w it is given.
package dev.ldm4j.train.distill;

import dev.ldm4j.diffusion.unet.UNetConfig;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.train.ModelInit;
import dev.ldm4j.train.TrainableWeights;
import dev.ldm4j.train.UNetTraining;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public final class Students {
    /** The keys of a scheduler config that define the noise schedule and the parameterisation, carried to a student. */
    static final List<String> SCHEDULE_KEYS = List.of("num_train_timesteps", "beta_start", "beta_end", "beta_schedule",
            "trained_betas", "rescale_betas_zero_snr", "prediction_type");
    /** The width of the consistency student's guidance embedding (LCM_Dreamshaper_v7's time_cond_proj_dim). */
    public static final int GUIDANCE_EMBEDDING_DIM = 256;
    private static final String COND_PROJ = "time_embedding.cond_proj.weight";

    private Students() {
    }

    /**
     * The progressive student of N steps: DDIM with trailing spacing (its N-step grid is NoiseLevels.trailingGrid(N)
     * when N divides T), set_alpha_to_one as the teacher's (DDIM's default true when absent), eta 0; defaults N
     * steps and guidance 1 (the guidance is distilled in: no unconditional pass).
     */
    public static UNetTraining.Parts progressive(UNetTraining.Parts teacher, Map<String, Object> unetArch, int steps, long seed) {
        Map<String, Object> sched = schedule(teacher.schedulerConfig());
        sched.put("clip_sample", false);
        sched.put("set_alpha_to_one", !(teacher.schedulerConfig().get("set_alpha_to_one") instanceof Boolean b) || b);
        sched.put("steps_offset", 0);
        sched.put("timestep_spacing", "trailing");
        Map<String, Object> defaults = new LinkedHashMap<>();
        defaults.put("steps", steps);
        defaults.put("guidance", 1.0);
        Map<String, Object> config = config(teacher, unetArch);
        return parts(teacher, config, TrainableWeights.of("student unet", weights(teacher, config, seed)), sched, "DDIMScheduler", defaults);
    }

    /**
     * The consistency student: the U-Net with time_cond_proj_dim = GUIDANCE_EMBEDDING_DIM (cond_proj zero), the LCM
     * scheduler whose original_inference_steps is T/K (so its 4-step schedule lies on the solver timesteps it
     * was trained at), defaults 4 steps, the LCM scheduler, and guidance 1 + w at the given default w.
     */
    public static UNetTraining.Parts consistency(UNetTraining.Parts teacher, Map<String, Object> unetArch, int skip, double defaultW, long seed) {
        Map<String, Object> sched = schedule(teacher.schedulerConfig());
        int t = sched.get("num_train_timesteps") instanceof Number n ? n.intValue() : 1000;
        sched.put("original_inference_steps", t / skip);
        sched.put("timestep_scaling", ConsistencyDistillation.TIMESTEP_SCALING);
        sched.put("clip_sample", false);
        sched.put("steps_offset", 0);
        Map<String, Object> defaults = new LinkedHashMap<>();
        defaults.put("steps", 4);
        defaults.put("guidance", 1 + defaultW);
        defaults.put("scheduler", "lcm");
        Map<String, Object> config = config(teacher, unetArch);
        Map<String, Tensor> weights = weights(teacher, config, seed);
        config.put("time_cond_proj_dim", GUIDANCE_EMBEDDING_DIM);
        int c0 = UNetConfig.fromJson(config).blockOutChannels().get(0);
        weights.put(COND_PROJ, Tensor.zeros(c0, GUIDANCE_EMBEDDING_DIM));            // nn.Linear(cond_proj_dim, C0): [C0, dim]
        return parts(teacher, config, TrainableWeights.of("student unet", weights), sched, "LCMScheduler", defaults);
    }

    /**
     * A student architecture's "unet" section over the teacher's config: keys it gives replace the teacher's; the
     * channels in and out, the cross-attention width and the sample size must stay the teacher's (the student
     * shares its latent space and text encoder).
     */
    static Map<String, Object> config(UNetTraining.Parts teacher, Map<String, Object> unetArch) {
        Map<String, Object> config = new LinkedHashMap<>(teacher.unetConfig());
        if (unetArch == null) {
            return config;
        }
        config.putAll(unetArch);
        UNetConfig s = UNetConfig.fromJson(config), t = UNetConfig.fromJson(teacher.unetConfig());
        if (s.inChannels() != t.inChannels() || s.outChannels() != t.outChannels() || s.crossAttentionDim() != t.crossAttentionDim()
                || s.sampleSize() != t.sampleSize()) {
            throw new IllegalArgumentException("the student U-Net must keep the teacher's in_channels (" + t.inChannels() + "), out_channels ("
                    + t.outChannels() + ") cross_attention_dim (" + t.crossAttentionDim() + ") and sample_size (" + t.sampleSize() + ")");
        }
        return config;
    }

    /**
     * The initial weights of a student U-Net of the given config: the teacher's when the architecture is the teacher's,
     * else a new initialisation with every tensor of the teacher's name and shape copied in (see the header).
     */
    static Map<String, Tensor> weights(UNetTraining.Parts teacher, Map<String, Object> config, long seed) {
        Map<String, Tensor> t = teacher.unet().parameters();
        if (UNetConfig.fromJson(config).equals(UNetConfig.fromJson(teacher.unetConfig()))) {
            return new LinkedHashMap<>(t);
        }
        Map<String, Tensor> w = new LinkedHashMap<>(ModelInit.unet(UNetConfig.fromJson(config), seed).parameters());
        w.replaceAll((name, fresh) -> t.containsKey(name) && Arrays.equals(t.get(name).shape(), fresh.shape()) ? t.get(name) : fresh);
        return w;
    }

    private static Map<String, Object> schedule(Map<String, Object> teacher) {
        Map<String, Object> sched = new LinkedHashMap<>();
        for (String k : SCHEDULE_KEYS) {
            if (teacher.containsKey(k)) {
                sched.put(k, teacher.get(k));
            }
        }
        return sched;
    }

    private static UNetTraining.Parts parts(UNetTraining.Parts teacher, Map<String, Object> unetConfig, TrainableWeights unet,
                                            Map<String, Object> sched, String schedulerClass, Map<String, Object> defaults) {
        return new UNetTraining.Parts(unetConfig, unet, teacher.textConfig(), teacher.textEncoder(), teacher.vaeConfig(), teacher.vae(),
                sched, schedulerClass, teacher.vocabulary(), defaults);
    }
}
