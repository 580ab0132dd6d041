-- Each comparison reading belongs to at most one named episode (fct_stress_index_comparison
-- joins on the window), so no two windows may overlap.
select a.episode, b.episode as overlapping_episode
from {{ ref('int_stress__named_episodes') }} as a
inner join {{ ref('int_stress__named_episodes') }} as b
    on a.episode < b.episode
    and a.window_start <= b.window_end
    and b.window_start <= a.window_end
