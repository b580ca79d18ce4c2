/**
 * Noise schedulers (samplers) for latent diffusion, one class per diffusers scheduler, each
 * reproducing its diffusers namesake step for step (checked against recorded diffusers
 * trajectories in the tests), and two reverse-SDE samplers diffusers has no namesake of, written in terms
 * of the score ({@link dev.ldm4j.diffusion.schedulers.Score}; docs/SDE.md). Every class implements {@link dev.ldm4j.diffusion.schedulers.Scheduler};
 * {@link dev.ldm4j.diffusion.schedulers.Schedulers#create} builds one by CLI name from a model's
 * {@code scheduler_config.json} exactly as {@code NewScheduler.from_config(pipe.scheduler.config)} does.
 *
 * <table>
 * <caption>CLI names, classes and their usual names elsewhere</caption>
 * <tr><th>CLI name</th><th>class</th><th>A1111 / paper</th></tr>
 * <tr><td>ddpm</td><td>DDPMScheduler</td><td>DDPM, Ho et al. 2020</td></tr>
 * <tr><td>ddim</td><td>DDIMScheduler</td><td>DDIM, Song et al. 2020</td></tr>
 * <tr><td>pndm</td><td>PNDMScheduler</td><td>PLMS, Liu et al. 2022 (SD 1.x default)</td></tr>
 * <tr><td>lms</td><td>LMSDiscreteScheduler</td><td>LMS</td></tr>
 * <tr><td>euler</td><td>EulerDiscreteScheduler</td><td>Euler, Karras et al. 2022 Alg. 2</td></tr>
 * <tr><td>euler_a</td><td>EulerAncestralDiscreteScheduler</td><td>Euler a</td></tr>
 * <tr><td>heun</td><td>HeunDiscreteScheduler</td><td>Heun, Karras et al. 2022 Alg. 1</td></tr>
 * <tr><td>kdpm2 / kdpm2_a</td><td>KDPM2DiscreteScheduler / KDPM2AncestralDiscreteScheduler</td><td>DPM2 / DPM2 a</td></tr>
 * <tr><td>dpmpp_2m / dpmpp_2m_sde</td><td>DPMSolverMultistepScheduler</td><td>DPM++ 2M / DPM++ 2M SDE, Lu et al. 2022</td></tr>
 * <tr><td>dpmpp_2s</td><td>DPMSolverSinglestepScheduler</td><td>DPM++ 2S (without ancestral noise)</td></tr>
 * <tr><td>unipc</td><td>UniPCMultistepScheduler</td><td>UniPC, Zhao et al. 2023</td></tr>
 * <tr><td>deis</td><td>DEISMultistepScheduler</td><td>DEIS, Zhang &amp; Chen 2022</td></tr>
 * <tr><td>lcm</td><td>LCMScheduler</td><td>LCM, Luo et al. 2023</td></tr>
 * <tr><td>tcd</td><td>TCDScheduler</td><td>TCD, Zheng et al. 2024</td></tr>
 * <tr><td>sde_euler</td><td>EulerMaruyamaScheduler</td><td>reverse VE SDE, Euler-Maruyama (Song et al. 2021)</td></tr>
 * <tr><td>pc_langevin</td><td>PredictorCorrectorScheduler</td><td>predictor-corrector with Langevin corrector (Song et al. 2021)</td></tr>
 * <tr><td>sde_euler_vp</td><td>EulerMaruyamaVpScheduler</td><td>Euler-Maruyama on the reverse VP SDE (Song et al. 2021)</td></tr>
 * </table>
 *
 * {@link dev.ldm4j.diffusion.schedulers.RestartScheduler} wraps euler or heun for restart sampling (Xu et al. 2023,
 * {@code --restart}): its restart passes are listed in {@code timesteps()} between the base's steps.
 *
 * Steps are addressed by index into {@code timesteps()}; second-order schedulers (Heun, KDPM2)
 * list both model evaluations of a step, as diffusers does, so one loop drives every scheduler.
 * Schedules are computed in float32 like diffusers (torch.linspace, cumprod), updates in double.
 */
package dev.ldm4j.diffusion.schedulers;
